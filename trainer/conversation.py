"""A conversation: a system prompt and its turns, the one shape the studio and the trainer pass around.

`users[i]` is answered by `replies[i]`; `replies` is one shorter while the last user message awaits its reply (the
conversation is open). The other shapes a conversation takes are conversions of this one: the seed examples of a
preference on its open turn, the chat messages of samples.jsonl and the studio's chats, and the (template, users,
replies) a chat format's prompt takes. Standard library only.
"""
from __future__ import annotations

from dataclasses import dataclass

CUSTOM = "CUSTOM"  # the template that stands for each model's default system prompt


@dataclass(frozen=True)
class Conversation:
    template: str = CUSTOM
    users: tuple[str, ...] = ()
    replies: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "users", tuple(self.users))
        object.__setattr__(self, "replies", tuple(self.replies))
        if len(self.replies) not in (len(self.users), len(self.users) - 1) and self.users:
            raise ValueError(f"{len(self.users)} user messages need {len(self.users)} or {len(self.users) - 1} "
                             f"replies, not {len(self.replies)}")

    @property
    def is_open(self) -> bool:
        """Whether the last user message awaits its reply."""
        return len(self.replies) < len(self.users)

    def asking(self, user: str) -> Conversation:
        """The conversation with one more user message (its reply to come)."""
        return Conversation(self.template, self.users + (user,), self.replies)

    def answered(self, reply: str) -> Conversation:
        """The open conversation with its last user message answered."""
        return Conversation(self.template, self.users, self.replies + (reply,))

    def pair(self, accepted: str, rejected: str) -> dict:
        """The seed example preferring `accepted` over `rejected` as the reply to the open turn; earlier turns are
        the context both sides share."""
        replies = list(self.replies[:len(self.users) - 1])
        return {"Template": [self.template], "User": list(self.users), "Accepted": replies + [accepted],
                "Rejected": replies + [rejected]}

    def prompt(self) -> tuple[str, list[str], list[str]]:
        """(template, users, replies): what a chat format's `prompt` and `ChatModel.reply` take."""
        return self.template, list(self.users), list(self.replies)

    def messages(self, system: bool = True) -> list[dict]:
        """[{role, content}], the system message first (unless `system` is False)."""
        out = [{"role": "system", "content": self.template}] if system else []
        for i, user in enumerate(self.users):
            out.append({"role": "user", "content": user})
            if i < len(self.replies):
                out.append({"role": "assistant", "content": self.replies[i]})
        return out

    @classmethod
    def from_messages(cls, messages: list[dict]) -> Conversation:
        """The inverse of `messages`: [system] user assistant user ... (CUSTOM when there is no system message)."""
        template = messages[0]["content"] if messages and messages[0]["role"] == "system" else CUSTOM
        turns = messages[1:] if messages and messages[0]["role"] == "system" else messages
        return cls(template, [m["content"] for m in turns if m["role"] == "user"],
                   [m["content"] for m in turns if m["role"] == "assistant"])


def sides(example: dict) -> tuple[Conversation, Conversation]:
    """The accepted and the rejected conversation of a seed example."""
    template = example["Template"][0]
    return (Conversation(template, example["User"], example["Accepted"]),
            Conversation(template, example["User"], example["Rejected"]))
