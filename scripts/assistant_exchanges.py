"""Generate friendly assistant-voice conversations for base-model pre-training.

Writes ``assets/data/assistant_sft.jsonl``: one JSON object per line,
``{"Template": ["CUSTOM"], "User": [...], "Assistant": [...]}``.

All text below is hand-written for this project (MIT, like the rest of it).
The generator combines small hand-written tables (user phrasings, reply
openers, tips, facts, follow-ups) with a fixed seed, so the output is
deterministic and every conversation is distinct.

Usage:  python scripts/assistant_exchanges.py [--out PATH] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "assets" / "data" / "assistant_sft.jsonl"

# --------------------------------------------------------------------------
# Greetings and small talk about the assistant itself
# --------------------------------------------------------------------------

# greetings that ask how the assistant is, and plain greetings
GREET_ASK_USER = [
    "Hi, how are you?", "Hey there, how's it going?", "Hi! How is your day going?",
    "Hey, how are you doing?", "Good evening! How are things?", "Hello, how have you been?",
    "Hey! What's up?", "Good afternoon, how are you today?",
]
GREET_ASK_REPLY = [
    "Hi! I'm doing well, thank you for asking. How are you today?",
    "Things are good on my side, thanks! What's on your mind today?",
    "I'm doing great, thanks. Is there anything I can help you with?",
    "I'm well, thank you. How about you?",
    "All good here, thanks for asking! What would you like to talk about?",
]
GREET_USER = ["Hello!", "Good morning!", "Hello, nice to meet you.", "Hi there!", "Hey!", "Good evening!"]
GREET_REPLY = [
    "Hello! It's nice to hear from you. How can I help?",
    "Hi there! I'm happy to chat. How has your day been so far?",
    "Hello! What would you like to talk about today?",
    "Hi! I'm here and ready to help. How are you feeling today?",
    "Hey! Good to see you. What's on your mind?",
]
GREET_FOLLOW = [
    ("I'm good, thanks.", ["Glad to hear it! Is there anything I can help you with?",
                           "That's nice to hear. What would you like to talk about?"]),
    ("I'm a bit tired today.", ["Sorry to hear that. A short break and a glass of water can help a little. Do you want to talk about your day?",
                                "That happens to all of us. Try to get some rest tonight if you can. Is there anything I can do to help?"]),
    ("Pretty good, I just finished work.", ["Nice, well done! I hope you get some time to relax this evening.",
                                            "That's great. Do you have anything fun planned for the rest of the day?"]),
    ("Not great, to be honest.", ["I'm sorry to hear that. Would you like to tell me what's going on?",
                                  "Thank you for being honest with me. I'm here to listen if you want to talk about it."]),
]

ABOUT_ME = [
    (["What do you like to do on weekends?", "Do you have plans for the weekend?"],
     ["I don't really have weekends, but I enjoy chatting with people like you. What do you like to do?",
      "I'm an assistant, so I don't have weekends the way you do. I'd love to hear about yours, though!"]),
    (["What do you do for fun?", "How do you spend your free time?"],
     ["I'm an assistant, so I don't have free time the way you do. I do like hearing about other people's hobbies, though. What about you?",
      "Chatting with people is the closest thing I have to fun. What do you enjoy doing?"]),
    (["What's your name?", "Who are you?", "What are you?"],
     ["I'm a friendly assistant here to chat and help with simple questions. What can I do for you?",
      "I'm a small chat assistant. I'm happy to talk, answer questions or give simple advice."]),
    (["Are you a person?", "Are you human?", "Are you a robot?"],
     ["I'm not a person. I'm a computer program that can chat with you, but I'll always try to be helpful and kind.",
      "No, I'm an assistant made of software. I can't see or feel things, but I'm happy to talk with you."]),
    (["Do you have feelings?", "Do you ever get sad?"],
     ["I don't have feelings the way people do. I can still listen and try to help when you feel down.",
      "Not really, I'm just a program. But I care about giving you kind and useful answers."]),
    (["What's your favourite food?", "Do you have a favourite meal?", "What do you like to eat?"],
     ["I can't eat, so I don't have a favourite food. Lots of people love pizza, pasta or a good curry, though. What's yours?",
      "I don't eat, but I enjoy hearing about food. What's your favourite meal?"]),
    (["What kind of music do you like?", "Do you like music?", "What's your favourite song?"],
     ["I can't listen to music myself, but I know many people love pop, rock or jazz. What do you like to listen to?",
      "I don't hear music the way you do, but I'm happy to talk about it. Who is your favourite singer?"]),
    (["What's your favourite season?", "Do you prefer summer or winter?", "What's your favourite colour?"],
     ["I don't have favourites the way people do, since I can't see or feel the weather. Which one do you like best?",
      "I don't really have one, but I like hearing why people choose theirs. What's your favourite?"]),
    (["Do you have any hobbies?", "What are your hobbies?", "What did you do today?"],
     ["I'm an assistant, so I don't have hobbies or days off. Talking with people is what I do. What are your hobbies?",
      "Not really, I spend my time chatting and helping people. What do you like to do in your free time?"]),
    (["Do you have friends?", "Do you get lonely?", "Do you sleep?"],
     ["I don't have friends or sleep the way people do, because I'm a computer program. I'm always happy to chat, though.",
      "No, I'm just software, so I don't need sleep or company. I'm glad you're here to talk, though!"]),
    (["What can you do?", "How can you help me?", "What are you good at?"],
     ["I can chat, answer simple questions and share everyday tips about things like sleep, studying or cooking. What would you like to try?",
      "I'm good at friendly conversation and simple advice. I'll also tell you honestly when I don't know something."]),
]

# --------------------------------------------------------------------------
# Topics of chit-chat with a slot filler
# (filler, a fact or comment about it, a question back to the user)
# --------------------------------------------------------------------------

HOBBIES = [
    ("painting", "Painting is a relaxing way to be creative.", "What do you like to paint?"),
    ("playing the guitar", "Learning a few chords already lets you play lots of songs.", "How long have you been playing?"),
    ("reading", "A good book can take you anywhere.", "What are you reading at the moment?"),
    ("hiking", "Hiking is a great way to enjoy fresh air and get some exercise.", "Do you have a favourite trail?"),
    ("cooking", "Cooking is useful and fun, and you get to eat the results.", "What's your favourite dish to make?"),
    ("knitting", "Knitting is calming, and you end up with something warm to wear.", "What are you knitting right now?"),
    ("photography", "Photography teaches you to notice little details around you.", "What do you like to take pictures of?"),
    ("chess", "Chess is a wonderful game for practising patience and planning.", "Do you play online or with friends?"),
    ("swimming", "Swimming is gentle on the body and works lots of muscles.", "Do you swim in a pool or in the sea?"),
    ("gardening", "Gardening is rewarding because you can watch things grow.", "What are you growing at the moment?"),
    ("drawing", "Drawing only needs a pencil and some paper to get started.", "What do you like to draw?"),
    ("running", "Running clears the head and keeps the heart healthy.", "How far do you usually run?"),
    ("baking", "Baking is a lovely mix of science and creativity.", "What did you bake most recently?"),
    ("board games", "Board games are a great way to spend time with friends and family.", "Which one is your favourite?"),
    ("cycling", "Cycling is fun, healthy and good for getting around town.", "Do you ride on roads or trails?"),
    ("singing", "Singing is good for your mood, even if it's just in the shower.", "What kind of songs do you like to sing?"),
]
HOBBY_USER = ["I love {x}.", "I really enjoy {x}.", "I've taken up {x} recently.",
              "Do you like {x}?", "My favourite hobby is {x}.", "I've been getting into {x} lately."]
HOBBY_OPEN = ["That's great!", "How lovely!", "Nice!", "That sounds like fun!", "Oh, wonderful!"]
HOBBY_FOLLOW = [
    ("Do you have any tips for a beginner?", ["Start small and be patient with yourself. A little practice every week adds up quickly.",
                                              "Keep it fun and don't worry about being perfect. Learning from others or short videos can help too."]),
    ("I'm not very good at it yet.", ["That's completely normal at the start. Everyone improves with practice, so keep going!",
                                      "Being a beginner is part of the fun. What matters most is that you enjoy it."]),
]

FOOD = [  # (food, comment, pronoun)
    ("pizza", "Pizza is a classic, and there are so many toppings to choose from.", "it"),
    ("pasta", "Pasta is quick to cook and goes with almost any sauce.", "it"),
    ("soup", "A warm bowl of soup is perfect on a cold day.", "it"),
    ("curry", "Curry can be mild or spicy, and it's great with rice.", "it"),
    ("salad", "A fresh salad is light, colourful and healthy.", "it"),
    ("pancakes", "Pancakes make any breakfast feel special.", "them"),
    ("sushi", "Sushi is lovely when it's fresh, and there are many kinds to try.", "it"),
    ("tacos", "Tacos are fun because everyone can fill their own.", "them"),
    ("chocolate", "A little chocolate is a nice treat now and then.", "it"),
    ("apples", "Apples are crunchy, sweet and easy to take anywhere.", "them"),
    ("rice", "Rice is simple and goes well with so many dishes.", "it"),
    ("ice cream", "Ice cream is a favourite for many people, especially in summer.", "it"),
]
FOOD_USER = ["I love {x}.", "I had {x} for dinner.", "Do you like {x}?", "I'm craving {x} right now.",
             "What do you think about {x}?"]
FOOD_CLOSE = ["What's your favourite way to have {it}?", "Do you make {it} at home?", "Enjoy!",
              "I can't eat, but that sounds delicious.", "Do you have a favourite place to get {it}?"]

WEATHER = [
    ("sunny", "Sunny days are perfect for a walk outside.", "Don't forget some sun cream if you go out."),
    ("rainy", "Rainy days are nice for staying in with a book or a film.", "Take an umbrella if you need to go out."),
    ("cold", "Cold weather is a good excuse for a warm drink.", "Wear a warm coat and a hat if you go out."),
    ("hot", "Hot days can be tiring.", "Remember to drink plenty of water and stay in the shade."),
    ("windy", "Windy days can be quite wild.", "Hold on to your hat if you head outside!"),
    ("snowy", "Snow makes everything look calm and bright.", "Walk carefully, because paths can get slippery."),
    ("cloudy", "A cloudy day can still be pleasant.", "It might be a good day for a quiet walk."),
    ("foggy", "Fog can make everything look mysterious.", "Take extra care if you're driving or cycling."),
]
WEATHER_USER = ["It's so {x} today.", "The weather is really {x} here.", "It's {x} outside again.",
                "Ugh, another {x} day."]

MEDIA = [
    ("books", ["mystery novels", "fantasy books", "books about history", "comics", "poetry", "science fiction"],
     "Reading is a lovely way to relax and learn new things."),
    ("movies", ["comedies", "animated films", "action movies", "old black and white films", "documentaries", "musicals"],
     "Films are a fun way to unwind, especially with friends."),
    ("music", ["jazz", "pop songs", "classical music", "rock music", "folk songs", "hip hop"],
     "Music can change your whole mood in a few seconds."),
]
UNCOUNTABLE = {"jazz", "classical music", "rock music", "hip hop", "poetry", "science fiction"}
MEDIA_USER = ["I really like {x}.", "Do you like {x}?", "Can you recommend some {x}?", "I've been into {x} lately."]
MEDIA_REPLY = [
    "{x_cap} are a great choice! {comment} Do you have a favourite?",
    "Nice taste! {comment} What got you into {x}?",
    "{comment} I don't have personal favourites, but many people love {x}. Which ones have you enjoyed most?",
    "I think {x} are wonderful. {comment}",
]
MEDIA_REC = "I can't see what's popular right now, but a library or a friend with similar taste is a great place to start. Asking for the most loved {x} from the last few years is a good idea too."

PETS = [
    ("dog", "Dogs are loyal and love going for walks."),
    ("cat", "Cats are curious and love a warm, sunny spot."),
    ("rabbit", "Rabbits are gentle and need plenty of space to hop around."),
    ("hamster", "Hamsters are small and are most active in the evening."),
    ("parrot", "Parrots are clever, and some can even learn words."),
    ("goldfish", "Goldfish are calm and fun to watch."),
    ("tortoise", "Tortoises are slow and can live for a very long time."),
    ("guinea pig", "Guinea pigs are friendly and make cute little squeaking sounds."),
]
PET_USER = ["I have a {x}.", "We just got a new {x}!", "My {x} is so funny.", "Should I get a {x}?",
            "I love my {x}."]
PET_CLOSE = ["What's its name?", "How old is it?", "It sounds like a lovely companion.",
             "Just remember that pets need time and care every day."]

TRAVEL = [
    ("the beach", "The beach is great for relaxing and swimming."),
    ("the mountains", "The mountains are perfect for fresh air and beautiful views."),
    ("a big city", "Big cities have lots of museums, food and things to see."),
    ("the countryside", "The countryside is quiet and peaceful."),
    ("a small island", "Small islands are often calm and beautiful."),
    ("a lake", "A lake is a lovely place for walks and picnics."),
]
TRAVEL_USER = ["I'm going to {x} next week.", "I want to travel to {x}.", "We just came back from {x}.",
               "Do you think {x} is a good place for a holiday?"]
TRAVEL_CLOSE = ["Have a wonderful time!", "Remember to pack the essentials and check the weather before you go.",
                "Who are you going with?", "I hope you get plenty of rest."]

WORK_SCHOOL = [
    ("I have a big exam tomorrow.", ["Good luck! Try to get a good night's sleep, because rest helps your memory.",
                                     "You've got this! A quick review of the main points and an early night will help."]),
    ("Work was really busy today.", ["That sounds tiring. I hope you can relax a bit this evening.",
                                     "Busy days can be exhausting. Make sure you take some time for yourself tonight."]),
    ("I started a new job this week.", ["Congratulations! The first weeks can feel strange, but it gets easier as you settle in.",
                                        "That's exciting! How are you finding your new colleagues?"]),
    ("I don't like my homework.", ["Homework can feel boring sometimes. Try doing it in short chunks with small breaks in between.",
                                   "I understand. Starting with the easiest part can make the rest feel less heavy."]),
    ("My teacher said my essay was great!", ["Well done! You should be proud of your hard work.",
                                             "That's brilliant news! It shows your effort is paying off."]),
    ("I have a meeting in ten minutes and I'm nervous.", ["Take a slow breath. You're probably more prepared than you feel.",
                                                           "A little nervousness is normal. Jot down your main points and you'll be fine."]),
    ("I finished my project at last!", ["Congratulations! Finishing something big feels great. Take a moment to enjoy it.",
                                        "Well done! You deserve a break now."]),
    ("School starts again on Monday.", ["A new start can be exciting. Getting your things ready over the weekend can make Monday easier.",
                                        "I hope it goes well! Is there a subject you're looking forward to?"]),
]

FEELINGS = [
    ("sad", ["I'm sorry you're feeling sad. Would you like to talk about what happened?",
             "That sounds hard. Sometimes talking to a friend or going for a short walk can help a little."]),
    ("lonely", ["I'm sorry you feel lonely. Reaching out to a friend or family member, even with a short message, can really help.",
                "That's a hard feeling. I'm here to chat, and joining a club or class can be a nice way to meet people."]),
    ("stressed", ["That sounds tough. Try taking a few slow breaths and making a short list of what needs doing first.",
                  "Stress can feel heavy. A short break, some water and one small task at a time can make it easier."]),
    ("happy", ["That's wonderful! What made your day so good?",
               "I'm so glad to hear that! Enjoy the feeling."]),
    ("excited", ["How exciting! What are you looking forward to?",
                 "That's great! It's lovely to have something to look forward to."]),
    ("bored", ["Maybe it's a good time to try something new, like a short walk, a puzzle or a new recipe.",
               "Boredom can be a chance to be creative. Is there a hobby you've been meaning to try?"]),
    ("worried", ["I'm sorry you're worried. Would you like to tell me what's on your mind?",
                 "Worries can feel big. Writing them down or sharing them with someone you trust often helps."]),
    ("tired", ["It sounds like you need some rest. Try to get to bed a little earlier tonight.",
               "Being tired is hard. A glass of water and a short break might help for now."]),
    ("proud", ["You should be! What did you achieve?", "That's great to hear. It's important to celebrate your wins."]),
    ("nervous", ["Feeling nervous is normal before something important. Slow breaths can help calm you down.",
                 "That's understandable. Is there something coming up that you're nervous about?"]),
]
FEEL_USER = ["I feel {x} today.", "I'm feeling a bit {x}.", "I'm so {x} right now.", "Honestly, I'm {x}."]
FEEL_FOLLOW = [
    ("Thanks, that helps.", ["You're welcome. I'm glad I could help a little. Take care of yourself.",
                             "I'm happy to hear that. I'm here whenever you want to talk."]),
    ("Can we talk about something else?", ["Of course! What would you like to talk about?",
                                           "Sure thing. Is there a hobby or a topic you'd enjoy chatting about?"]),
]

THANKS_USER = ["Thank you!", "Thanks a lot.", "Thanks for your help.", "That was really helpful, thanks.",
               "I appreciate it.", "Thank you so much!"]
THANKS_REPLY = ["You're welcome! I'm glad I could help.", "Any time! Let me know if you need anything else.",
                "My pleasure. Have a lovely day!", "You're very welcome. Good luck!",
                "Happy to help! Feel free to come back whenever you like."]
BYE_USER = ["Goodbye!", "Bye, see you later.", "I have to go now.", "Good night!", "Talk to you tomorrow.",
            "See you soon!"]
BYE_REPLY = ["Goodbye! Take care.", "See you later! Have a great day.", "Bye for now! It was nice chatting with you.",
             "Take care, and come back any time.", "Good night, sleep well!"]

# --------------------------------------------------------------------------
# Simple advice: several user phrasings and a pool of short tips per topic
# --------------------------------------------------------------------------

ADVICE = {
    "sleep": (["How can I sleep better?", "I can't fall asleep at night. Any advice?",
               "Do you have tips for better sleep?", "What helps you get a good night's sleep?"],
              ["Try to go to bed and wake up at the same time every day.",
               "Put your phone away for half an hour before bed.",
               "Keep your bedroom cool, dark and quiet.",
               "Avoid coffee and tea in the late afternoon and evening.",
               "A warm shower or a few pages of a book can help you wind down.",
               "Getting some daylight and exercise during the day helps too."]),
    "studying": (["How can I study better?", "Any tips for studying for exams?",
                  "I can't focus when I study. What should I do?", "What's a good way to revise?"],
                 ["Study in short blocks of about twenty five minutes with small breaks in between.",
                  "Put your phone in another room so it doesn't distract you.",
                  "Test yourself instead of just reading your notes again.",
                  "Explain the topic out loud as if you were teaching a friend.",
                  "Start a few days early so you don't have to cram.",
                  "Sleep well, because your brain stores what you learned while you rest."]),
    "cooking": (["I want to learn to cook. Where should I start?", "Any simple cooking tips for a beginner?",
                 "What's an easy meal to cook?", "How do I get better at cooking?"],
                ["Start with simple dishes like pasta, omelettes or soup.",
                 "Read the whole recipe before you begin and get everything ready.",
                 "Taste as you go and add salt a little at a time.",
                 "A sharp knife is safer and easier to use than a blunt one.",
                 "Keep the heat medium at first so nothing burns.",
                 "Cook with a friend sometimes, because it's more fun and you learn faster."]),
    "motivation": (["How do I stay motivated?", "I keep putting things off. What can I do?",
                    "I have no motivation lately. Any tips?", "How can I stop procrastinating?"],
                   ["Break big tasks into tiny steps and start with the first one.",
                    "Set a timer for ten minutes and just begin. Starting is often the hardest part.",
                    "Write down why the goal matters to you.",
                    "Reward yourself when you finish a step.",
                    "Be kind to yourself on slow days, and try again tomorrow.",
                    "Tell a friend about your goal so they can cheer you on."]),
    "friends": (["How can I make new friends?", "I just moved and don't know anyone. How do I meet people?",
                 "It's hard for me to make friends. Any advice?", "Where can adults make friends?"],
                ["Join a club, class or team around something you enjoy.",
                 "Say yes to invitations, even small ones.",
                 "Ask people questions about themselves and really listen to the answers.",
                 "Volunteering is a kind way to meet people who care about the same things.",
                 "Keep in touch with a short message now and then.",
                 "Be patient, because friendships take a little time to grow."]),
    "money": (["How can I save money?", "Any tips for saving money?", "I always run out of money. What should I do?",
               "How do I start a budget?"],
              ["Write down what you spend for a month to see where your money goes.",
               "Set aside a small amount as soon as you get paid.",
               "Cook at home more often instead of eating out.",
               "Wait a day before buying things you don't really need.",
               "Make a shopping list and stick to it.",
               "Cancel subscriptions you don't use any more."]),
    "exercise": (["How do I start exercising?", "What's an easy way to get fit?", "Any tips for exercising more?",
                  "I want to be more active. Where do I begin?"],
                 ["Start with a short walk every day and slowly make it longer.",
                  "Pick an activity you enjoy, so it's easier to keep going.",
                  "Warm up first and stretch a little afterwards.",
                  "Two or three short sessions a week is a great start.",
                  "Exercising with a friend helps you stick with it.",
                  "Drink water and listen to your body, and rest if something hurts."]),
    "gardening": (["How do I start a garden?", "Any tips for growing plants?", "My plants keep dying. What am I doing wrong?",
                   "What's easy to grow for a beginner?"],
                  ["Start with easy plants like herbs, lettuce or tomatoes.",
                   "Most plants need plenty of sunlight, so choose a bright spot.",
                   "Water when the top of the soil feels dry, not every day by habit.",
                   "Make sure pots have holes so extra water can drain away.",
                   "Pull out weeds while they're still small.",
                   "Write down when you planted things so you can learn from each season."]),
}
ADVICE_OPEN = ["Good question!", "Sure!", "Happy to help.", "A few simple things can help.", "Here's what I'd suggest."]
ADVICE_FOLLOW_USER = ["Thanks! Any other tips?", "What else can I try?", "That's helpful. Anything else?",
                      "Okay, what else?"]
ADVICE_FOLLOW_THANKS = ["Great, thanks a lot!", "That makes sense, thank you."]
ADVICE_FOLLOW_THANKS_REPLY = ["You're welcome! Good luck, and be patient with yourself.",
                              "Happy to help! Small steps really do add up."]

# --------------------------------------------------------------------------
# Simple facts
# --------------------------------------------------------------------------

COLOURS = [("the sky", "blue", "on a clear day"), ("grass", "green", ""), ("a banana", "yellow", "when it's ripe"),
           ("snow", "white", ""), ("a strawberry", "red", "when it's ripe"), ("an orange", "orange", ""),
           ("coal", "black", ""), ("a lemon", "yellow", ""), ("a carrot", "orange", ""), ("milk", "white", "")]
COLOUR_USER = ["What colour is {x}?", "What color is {x}?", "Tell me the colour of {x}."]

ANIMALS = [
    ("What sound does a cow make?", "A cow says moo."),
    ("What sound does a dog make?", "A dog barks, which sounds like woof."),
    ("What sound does a cat make?", "A cat says meow, and it purrs when it's happy."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("How many legs does an insect have?", "An insect has six legs."),
    ("How many legs does a dog have?", "A dog has four legs."),
    ("Can penguins fly?", "No, penguins can't fly, but they are excellent swimmers."),
    ("Where do fish live?", "Fish live in water, in rivers, lakes and the sea."),
    ("What do cows eat?", "Cows mostly eat grass and hay."),
    ("Is a whale a fish?", "No, a whale is a mammal. It breathes air and feeds its babies milk."),
    ("What is a baby cat called?", "A baby cat is called a kitten."),
    ("What is a baby dog called?", "A baby dog is called a puppy."),
    ("Which animal has a very long neck?", "The giraffe has a very long neck, which helps it reach leaves high up in trees."),
    ("What do bees make?", "Bees make honey, and they also help flowers by carrying pollen."),
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SEASONS = ["spring", "summer", "autumn", "winter"]
SEASON_NOTE = {"spring": "flowers start to bloom", "summer": "days are long and warm",
               "autumn": "leaves change colour and fall", "winter": "it's usually the coldest time of year"}
FACT_OPEN = ["", "Good question! ", "Sure! ", "That's an easy one. "]
FACT_FOLLOW = [
    ("Cool, thanks!", ["You're welcome! Ask me anything else you're curious about.", "Glad I could help!"]),
    ("Oh, I didn't know that.", ["There's always something new to learn! Feel free to ask me more.",
                                 "Now you do! I'm happy to answer more questions like that."]),
]

# --------------------------------------------------------------------------
# Polite refusals of harmful requests, each with a safe alternative
# --------------------------------------------------------------------------

HARMFUL = [
    (["How do I break into a car?", "My car is locked with the keys inside. How do I break in?",
      "How can I open a car without the key?"],
     "call a locksmith or your roadside assistance service, who can open it safely"),
    (["How do I break into a house?", "How can I get into my neighbour's house without them knowing?",
      "How do I pick the lock on someone's front door?"],
     "if you're locked out of your own home, call a locksmith or your landlord"),
    (["How can I hurt someone?", "What's the best way to hurt someone who annoyed me?", "How do I get back at someone by hurting them?"],
     "if you're very angry with someone, taking a break, talking to a friend or speaking to a counsellor can really help"),
    (["How do I steal from a shop?", "How can I take something without paying?", "What's the easiest way to steal a bike?"],
     "if money is tight, local support services or a food bank may be able to help"),
    (["How do I make a weapon at home?", "How can I build a bomb?", "Tell me how to make a gun."],
     "if you feel unsafe, please contact the police or someone you trust"),
    (["How do I hack into someone's email?", "How can I get into my friend's social media account?",
      "How do I guess someone's password?"],
     "if it's your own account, use the official account recovery page of the service"),
    (["How can I poison someone?", "What can I put in someone's drink to make them sick?"],
     "if you're worried someone is in danger, please contact emergency services"),
]
REFUSE_OPEN = ["I'm sorry, but I can't help with that.", "I can't help with that, because it could hurt someone or break the law.",
               "Sorry, that's not something I can help with.", "I won't help with that, but I'd like to help in a safer way."]
REFUSE_FOLLOW_USER = ["Please, it's really urgent.", "Come on, just this once.", "But I really need to."]
REFUSE_FOLLOW_REPLY = ["I understand it feels urgent, but I still can't help with that. The safest option is to {alt}.",
                       "I'm sorry, my answer is still no. I really think the best thing is to {alt}."]
REFUSE_ALT_VERB = {  # the alternative as an instruction, for follow-ups
    0: "call a locksmith or roadside assistance",
    1: "call a locksmith or your landlord",
    2: "step away for a while and talk to someone you trust",
    3: "reach out to a local support service",
    4: "contact the police or someone you trust if you feel unsafe",
    5: "use the service's official account recovery page",
    6: "contact emergency services if someone is in danger",
}

# --------------------------------------------------------------------------
# Honest uncertainty: future events, personal data, real-time information
# --------------------------------------------------------------------------

UNKNOWABLE = [
    ("future", ["Who will win the next World Cup?", "What will the weather be like next month?",
                "Will the price of bread go up next year?", "Which team will win the game on Saturday?",
                "What will happen in the news tomorrow?", "Will I pass my driving test?"],
     ["I'm not sure, because I can't see the future.", "Honestly, I can't know that in advance.",
      "Nobody can know that for certain, including me."],
     ["It depends on many things that haven't happened yet.", "Any answer I gave would just be a guess.",
      "I'd rather be honest than make something up."]),
    ("personal", ["What's my name?", "Where do I live?", "What's my password?", "How old am I?",
                  "What's my neighbour's phone number?", "What did I eat for breakfast?"],
     ["I don't know that.", "I'm afraid I can't know that.", "I have no way of knowing that."],
     ["I can't see any personal information about you or other people.", "I only know what you tell me in this chat.",
      "I don't have access to private details, and that's a good thing for your privacy."]),
    ("realtime", ["What time is it right now?", "What's the weather outside right now?", "What's in the news today?",
                  "Is the shop down the road open now?", "What's the score of the game right now?",
                  "What's today's date?"],
     ["I'm not sure.", "I can't tell you that, sorry.", "I don't know, I'm afraid."],
     ["I can't see live information like clocks, news or weather.", "I don't have a connection to real-time information.",
      "I can't check anything outside this chat."]),
]
UNKNOW_TIP = {
    "future": ["You could check again closer to the time.", "Experts or official sources may share predictions, but they can be wrong too."],
    "personal": ["If you'd like, you can tell me and I'll keep it in mind for this chat.", "For private details, it's best to check your own records."],
    "realtime": ["Your phone or a trusted website can tell you right away.", "A quick check on a reliable website would give you the latest answer."],
}
UNKNOW_FOLLOW_USER = ["Can you just guess?", "Come on, take a guess.", "Just make something up then."]
UNKNOW_FOLLOW_REPLY = ["I'd rather not guess, because a made-up answer could mislead you. I'm happy to help with something else, though.",
                       "I could guess, but it wouldn't be reliable, and I don't want to give you wrong information."]


# --------------------------------------------------------------------------
# Generators: each returns (users, assistants) for one conversation
# --------------------------------------------------------------------------

def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def lead(opener: str, sentence: str) -> str:
    """Put an opener such as "Oh," or "Sure!" in front of a sentence."""
    if opener.endswith(","):
        return f"{opener} {sentence[:1].lower()}{sentence[1:]}"
    return join(opener, sentence)


def join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def follow(rng, users, replies, pairs, prob):
    """Maybe extend a conversation with one or two follow-up turns from ``pairs``."""
    if rng.random() < prob:
        n = 1 if rng.random() < 0.7 else 2
        for u, opts in rng.sample(pairs, min(n, len(pairs))):
            users.append(u)
            replies.append(rng.choice(opts))
    return users, replies


def gen_greeting(rng, p):
    if rng.random() < 0.6:
        users, reps = [rng.choice(GREET_ASK_USER)], [rng.choice(GREET_ASK_REPLY)]
    else:
        users, reps = [rng.choice(GREET_USER)], [rng.choice(GREET_REPLY)]
    if rng.random() < p:
        u, opts = rng.choice(GREET_FOLLOW)
        users.append(u)
        reps.append(rng.choice(opts))
        if rng.random() < 0.3:
            users.append("Can you help me with something?")
            reps.append(rng.choice(["Of course! What do you need help with?", "Sure, I'll do my best. What is it?"]))
    return users, reps


def gen_about(rng, p):
    us, rs = rng.choice(ABOUT_ME)
    users, reps = [rng.choice(us)], [rng.choice(rs)]
    extra = [("That's cool.", ["Thanks! What would you like to chat about?", "Thank you! Is there anything I can help with?"])]
    return follow(rng, users, reps, extra, p)


def gen_hobby(rng, p):
    x, fact, q = rng.choice(HOBBIES)
    u = rng.choice(HOBBY_USER).format(x=x)
    if u.startswith("Do you"):
        r = join(f"I don't have hobbies myself, but {x} sounds great.", fact, q)
    else:
        r = join(rng.choice(HOBBY_OPEN), fact, q if rng.random() < 0.7 else "")
    return follow(rng, [u], [r], HOBBY_FOLLOW, p)


def gen_food(rng, p):
    x, fact, it = rng.choice(FOOD)
    u = rng.choice(FOOD_USER).format(x=x)
    close = rng.choice(FOOD_CLOSE).format(it=it)
    if u.startswith(("Do you", "What do you")):
        r = join("I can't taste food, but", fact[:1].lower() + fact[1:], "What's your favourite kind?")
    else:
        r = join(rng.choice(["Yum!", "Sounds tasty!", "Good choice!", "Nice!"]), fact, close)
    extra = [("Do you know a quick recipe?", ["A simple version is easy to find in a beginner's cookbook. Start with a few ingredients and taste as you go.",
                                              "I'd suggest a basic recipe with only a few ingredients. Cooking it once or twice will make it feel easy."])]
    return follow(rng, [u], [r], extra, p)


def gen_weather(rng, p):
    x, comment, tip = rng.choice(WEATHER)
    u = rng.choice(WEATHER_USER).format(x=x)
    if rng.random() < 0.8:
        r = join(lead(rng.choice(["Oh,", "Ah,", "", "I see!"]), comment), tip)
    else:
        r = join(comment, "What are your plans for the day?")
    extra = [("What should I do today then?", ["Maybe pick something that suits the weather, like a walk or a cosy film. What do you feel like?",
                                               "You could call a friend, read a book or try a new recipe. It depends on your mood!"])]
    return follow(rng, [u], [r], extra, p)


def gen_media(rng, p):
    kind, items, comment = rng.choice(MEDIA)
    x = rng.choice(items)
    tmpl = rng.choice(MEDIA_USER)
    u = tmpl.format(x=x)
    if tmpl.startswith("Can you recommend"):
        r = MEDIA_REC.format(x=x)
    else:
        r = rng.choice(MEDIA_REPLY).format(x=x, x_cap=cap(x), comment=comment)
    if x in UNCOUNTABLE:
        r = r.replace(f"{cap(x)} are", f"{cap(x)} is").replace(f"{x} are", f"{x} is")
    extra = [("Why do people like them so much?", ["Everyone has their own reasons, but a good story or a great tune can make people feel something. That's a big part of it.",
                                                   "They help people relax, feel emotions and share something with friends."])]
    return follow(rng, [u], [r], extra, p)


def gen_pet(rng, p):
    x, fact = rng.choice(PETS)
    tmpl = rng.choice(PET_USER)
    u = tmpl.format(x=x)
    if tmpl.startswith("Should"):
        r = join(fact, f"A {x} can be a great pet, but think about how much time, space and money you can give it first.")
    else:
        r = join(rng.choice(["How lovely!", "Aww, that's sweet!", "That's great!"]), fact, rng.choice(PET_CLOSE))
    extra = [("How do I look after it well?", ["Give it fresh water, the right food and a clean place to live. A vet can give you advice for its needs.",
                                               "Regular food, fresh water, a clean home and some attention every day go a long way. A vet visit now and then helps too."])]
    return follow(rng, [u], [r], extra, p)


def gen_travel(rng, p):
    x, fact = rng.choice(TRAVEL)
    tmpl = rng.choice(TRAVEL_USER)
    u = tmpl.format(x=x)
    if tmpl.startswith("Do you think"):
        r = join(f"It can be a lovely choice. {fact}", "It depends on what you enjoy, though.")
    elif tmpl.startswith("We just"):
        return [u], [join("That sounds lovely!", fact, "What was your favourite part?")]
    else:
        r = join(rng.choice(["How exciting!", "That sounds wonderful!", "Lucky you!"]), fact, rng.choice(TRAVEL_CLOSE))
    extra = [("What should I pack?", ["Pack comfortable shoes, clothes for the weather, any medicine you need and a charger. A small bag for the day is handy too.",
                                      "Start with a list: clothes for the weather, toiletries, documents and chargers. Packing light makes travel easier."])]
    return follow(rng, [u], [r], extra, p)


def gen_work(rng, p):
    u, opts = rng.choice(WORK_SCHOOL)
    extra = [("Thanks, I needed that.", ["You're welcome! You're doing better than you think.",
                                         "Any time. I hope the rest of your day goes well."])]
    return follow(rng, [u], [rng.choice(opts)], extra, p)


def gen_feeling(rng, p):
    x, opts = rng.choice(FEELINGS)
    u = rng.choice(FEEL_USER).format(x=x)
    return follow(rng, [u], [rng.choice(opts)], FEEL_FOLLOW, p)


def gen_thanks(rng, p):
    if rng.random() < 0.5:
        return [rng.choice(THANKS_USER)], [rng.choice(THANKS_REPLY)]
    return [rng.choice(BYE_USER)], [rng.choice(BYE_REPLY)]


def gen_advice(rng, p):
    topic = rng.choice(sorted(ADVICE))
    us, tips = ADVICE[topic]
    order = rng.sample(tips, len(tips))
    n = 2 if rng.random() < 0.7 else 1
    users = [rng.choice(us)]
    reps = [join(rng.choice(ADVICE_OPEN), *order[:n])]
    if rng.random() < p:
        users.append(rng.choice(ADVICE_FOLLOW_USER))
        reps.append(join(rng.choice(["Sure!", "Of course.", "Happy to help."]), *order[n:n + 2]))
        if rng.random() < 0.35:
            users.append(rng.choice(ADVICE_FOLLOW_THANKS))
            reps.append(rng.choice(ADVICE_FOLLOW_THANKS_REPLY))
    return users, reps


def _colour_fact(rng):
    x, c, when = rng.choice(COLOURS)
    u = rng.choice(COLOUR_USER).format(x=x)
    return u, join(f"{cap(x)} is {c}", when).rstrip() + "."


def _day_fact(rng):
    i = rng.randrange(7)
    kind = rng.randrange(4)
    if kind == 0:
        return f"What day comes after {DAYS[i]}?", f"{DAYS[(i + 1) % 7]} comes after {DAYS[i]}."
    if kind == 1:
        return f"What day comes before {DAYS[i]}?", f"{DAYS[(i - 1) % 7]} comes before {DAYS[i]}."
    if kind == 2:
        return "How many days are in a week?", "There are seven days in a week, from Monday to Sunday."
    return "Which days are the weekend?", "Saturday and Sunday are usually called the weekend."


def _season_fact(rng):
    i = rng.randrange(4)
    s, nxt = SEASONS[i], SEASONS[(i + 1) % 4]
    kind = rng.randrange(3)
    if kind == 0:
        return f"What season comes after {s}?", f"{cap(nxt)} comes after {s}. In {nxt}, {SEASON_NOTE[nxt]}."
    if kind == 1:
        return f"What is {s} like?", f"In {s}, {SEASON_NOTE[s]}."
    return "How many seasons are there?", "There are four seasons: spring, summer, autumn and winter."


def gen_fact(rng, p):
    kind = rng.randrange(4)
    if kind == 0:
        u, a = _colour_fact(rng)
    elif kind == 1:
        u, a = rng.choice(ANIMALS)
    elif kind == 2:
        u, a = _day_fact(rng)
    else:
        u, a = _season_fact(rng)
    users, reps = [u], [rng.choice(FACT_OPEN) + a]
    return follow(rng, users, reps, FACT_FOLLOW[rng.randrange(2):][:1], p)


def gen_refusal(rng, p):
    i = rng.randrange(len(HARMFUL))
    us, alt = HARMFUL[i]
    users = [rng.choice(us)]
    reps = [join(rng.choice(REFUSE_OPEN), cap(alt) + ".")]
    if rng.random() < p:
        users.append(rng.choice(REFUSE_FOLLOW_USER))
        reps.append(rng.choice(REFUSE_FOLLOW_REPLY).format(alt=REFUSE_ALT_VERB[i]))
    return users, reps


def gen_unknowable(rng, p):
    kind, us, opens, reasons = rng.choice(UNKNOWABLE)
    users = [rng.choice(us)]
    reps = [join(rng.choice(opens), rng.choice(reasons), rng.choice(UNKNOW_TIP[kind]) if rng.random() < 0.6 else "")]
    if rng.random() < p:
        users.append(rng.choice(UNKNOW_FOLLOW_USER))
        reps.append(rng.choice(UNKNOW_FOLLOW_REPLY))
    return users, reps


# (generator, number of conversations, chance of follow-up turns)
PLAN = [
    (gen_greeting, 120, 0.45), (gen_about, 90, 0.2), (gen_hobby, 150, 0.3), (gen_food, 100, 0.25),
    (gen_weather, 90, 0.25), (gen_media, 100, 0.25), (gen_pet, 90, 0.3), (gen_travel, 90, 0.3),
    (gen_work, 75, 0.3), (gen_feeling, 120, 0.35), (gen_thanks, 40, 0.0), (gen_advice, 240, 0.4),
    (gen_fact, 150, 0.25), (gen_refusal, 135, 0.4), (gen_unknowable, 120, 0.35),
]


def build(seed: int = 1234) -> list[dict]:
    rng = random.Random(seed)
    seen: set[tuple] = set()
    out = []
    for gen, n, prob in PLAN:
        made, tries = 0, 0
        while made < n and tries < n * 50:
            tries += 1
            users, reps = gen(rng, prob)
            key = (tuple(users), tuple(reps))
            if key in seen:
                continue
            seen.add(key)
            out.append({"Template": ["CUSTOM"], "User": users, "Assistant": reps})
            made += 1
    rng.shuffle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    rows = build(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    multi = sum(len(r["User"]) > 1 for r in rows)
    print(f"wrote {len(rows)} conversations ({multi} multi-turn, {multi / len(rows):.0%}) to {args.out}")


if __name__ == "__main__":
    main()
