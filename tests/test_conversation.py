"""trainer.conversation: the one conversation type and its conversions."""
import pytest

from trainer.conversation import CUSTOM, Conversation, sides


def test_an_open_conversation_converts_to_a_pair_messages_and_a_prompt():
    conversation = Conversation("Be brief.", ["u0"], ["a0"]).asking("u1")
    assert conversation.is_open and not conversation.answered("a1").is_open
    assert conversation.pair("good", "bad") == {"Template": ["Be brief."], "User": ["u0", "u1"],
                                                "Accepted": ["a0", "good"], "Rejected": ["a0", "bad"]}
    assert conversation.prompt() == ("Be brief.", ["u0", "u1"], ["a0"])
    messages = conversation.messages()
    assert messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "u0"},
                        {"role": "assistant", "content": "a0"}, {"role": "user", "content": "u1"}]
    assert Conversation.from_messages(messages) == conversation
    assert Conversation.from_messages(conversation.messages(system=False)) == Conversation(CUSTOM, ["u0", "u1"], ["a0"])


def test_a_seed_example_has_two_sides_and_turns_must_line_up():
    accepted, rejected = sides({"Template": ["CUSTOM"], "User": ["u"], "Accepted": ["a"], "Rejected": ["r"]})
    assert (accepted.replies, rejected.replies) == (("a",), ("r",))
    with pytest.raises(ValueError, match="1 user messages need 1 or 0 replies"):
        Conversation(CUSTOM, ["u"], ["a", "b"])
