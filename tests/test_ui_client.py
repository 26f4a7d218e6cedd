"""The studio served in-process and driven through gradio_client: the same endpoints the browser calls."""
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client

from studio.store import ExampleFilter, Store
from studio.ui.annotate import VIEW
from studio.ui.composer import FORM, new_draft
from studio_server import running_studio
from trainer.interchange import load_seed_file

USERS = [("alice", "pw-a"), ("bob", "pw-b")]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")  # pandas 3 vs gradio
CLIENTS = 12


@pytest.fixture(scope="module")
def studio(tiny_checkpoint, tmp_path_factory):
    with running_studio(tmp_path_factory.mktemp("client"), tiny_checkpoint) as served:
        yield served


@pytest.fixture(scope="module")
def client(studio):
    return Client(studio[0], verbose=False)


def form(**fields) -> list:
    """The form's values in the order the annotate endpoints take them."""
    draft = new_draft(**fields)
    return [draft[k] for k in FORM]


def returned(out, name):
    """One component's value from an annotate endpoint's outputs (the layout rows return nothing)."""
    return out[[k for k in VIEW if not k.startswith("slot_")].index(name)]


def test_write_continue_then_save_over_the_api(studio, client):
    url, settings = studio
    out = client.predict("carol", None, *form(user="u0", accepted="a0"), api_name="/continue_written")
    draft = returned(out, "draft")
    assert draft["conversation_id"] and draft["user"] == ""
    client.predict("carol", draft, *form(user="u1", accepted="a1", rejected="r1"), api_name="/save_written")
    examples = [e.seed for e in Store(settings.db).iter_examples(ExampleFilter(annotator="carol"))]
    assert examples == [{"Template": ["CUSTOM"], "User": ["u0", "u1"], "Accepted": ["a0", "a1"],
                         "Rejected": ["a0", "r1"]}]


def test_validation_errors_come_back_inline_and_store_nothing(studio, client):
    url, settings = studio
    out = client.predict("dora", None, *form(user="u", accepted="same", rejected="same"), api_name="/save_written")
    notice = returned(out, "notice")
    assert "Not done" in notice and "identical" in notice
    assert Store(settings.db).count_examples(ExampleFilter(annotator="dora")) == 0


def test_concurrent_saves_from_many_clients_all_land(studio):
    url, settings = studio
    clients = [Client(url, verbose=False) for _ in range(CLIENTS)]

    def save(i):
        return clients[i].predict(f"annotator-{i}", None, *form(user=f"question {i}", accepted=f"good {i}",
                                                                 rejected=f"bad {i}"), api_name="/save_written")

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(save, range(CLIENTS)))
    store = Store(settings.db)
    for i in range(CLIENTS):
        assert [e.seed for e in store.iter_examples(ExampleFilter(annotator=f"annotator-{i}"))] == [
            {"Template": ["CUSTOM"], "User": [f"question {i}"], "Accepted": [f"good {i}"],
             "Rejected": [f"bad {i}"]}]
    names = {c["annotator"] for c in store.list_conversations(status="done", limit=1000)}
    assert {f"annotator-{i}" for i in range(CLIENTS)} <= names


def test_sample_rank_and_export_over_the_api(studio, client, tiny_checkpoint):
    url, settings = studio
    sampling = [str(tiny_checkpoint), 3, 1.0, 1.0, 0, 12, 5]
    draft = returned(client.predict("erin", None, *sampling, *form(user="Hello there"), api_name="/sample"), "draft")
    assert len(draft["candidate_ids"]) == 3
    values = form(user="Hello there", text_1=draft["text_1"], text_2=draft["text_2"] + " (better)",
                  text_3=draft["text_3"], rank_1="2", rank_2="1", rank_3="3")
    client.predict("erin", draft, *values, api_name="/save_ranking")
    exported = client.predict("seed-json", "done", "erin", "(any)", "", api_name="/export")
    assert exported["label"].endswith("(3 examples)")
    examples = load_seed_file(exported["value"])  # the client downloaded the file the button offers
    assert [e["Accepted"][0] for e in examples] == [draft["text_2"] + " (better)"] * 3  # 2 ranked + 1 edit
    assert {e["Rejected"][0] for e in examples} == {draft["text_1"], draft["text_2"], draft["text_3"]}


def test_with_auth_a_login_is_required_and_every_row_is_attributed_to_it(tiny_checkpoint, tmp_path):
    with running_studio(tmp_path, tiny_checkpoint, auth=USERS) as (url, settings):
        with pytest.raises(Exception, match="(?i)login|auth|credentials"):
            Client(url, verbose=False)
        with pytest.raises(Exception, match="(?i)login|auth|credentials"):
            Client(url, auth=("alice", "wrong"), verbose=False)
        bob = Client(url, auth=("bob", "pw-b"), verbose=False)
        bob.predict("mallory", None, *form(user="u", accepted="a", rejected="r"), api_name="/save_written")
        assert [e.annotator for e in Store(settings.db).iter_examples()] == ["bob"]
