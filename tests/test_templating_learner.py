import pickle
import random

import pyarrow as pa

from aiops.templating import (
    Observation,
    StoredTemplate,
    TemplateConfig,
    learn,
    mask,
    mask_array,
    template_id,
    update_store,
)

LINES = [
    "Invalid user admin from 1.2.3.4 port 22",
    "Invalid user test from 5.6.7.8 port 23",
    "Invalid user oracle from 9.9.9.9 port 24",
    "session opened for user root by (uid=0)",
    "session opened for user bob by (uid=1000)",
    "Link ok", "Link error", "Link ok", "Link error", "Link ok", "Link error",
    "Connection closed by 1.2.3.4 [preauth]",
    "ret:true", "ret:false", "ret:true",
]
GOLDEN = [
    "Connection closed by <*> [preauth]",
    "Invalid user <*> from <*> port <*>",
    "Link error",
    "Link ok",
    "ret:<*>",
    "session opened for user <*> by (uid=<*>)",
]


def observations(lines=LINES):
    return [Observation(mask(m), 1, i * 10, i * 10, m) for i, m in enumerate(lines)]


def test_template_id_is_stable_hash_of_canonical_text():
    assert template_id("a <*> b") == "8d781f78c8345dae"
    assert template_id("a  <*>   b ") == "8d781f78c8345dae"
    assert template_id("a <*><*> b") == "8d781f78c8345dae"


def test_learn_golden_templates():
    model = learn("sshd", observations())
    assert [t.template for t in model.templates] == GOLDEN
    inv = model.templates[1]
    assert (inv.template_id, inv.first_seen, inv.last_seen, inv.count) == ("ec2309758035ec30", 0, 20, 3)
    assert inv.example == "Invalid user admin from 1.2.3.4 port 22"
    assert [model.index_of(mask(m)) for m in LINES] == [1, 1, 1, 5, 5, 3, 2, 3, 2, 3, 2, 0, 4, 4, 4]


def test_order_does_not_matter():
    base = learn("sshd", observations())
    for seed in range(5):
        obs = observations()
        random.Random(seed).shuffle(obs)
        # split into "bundles" of duplicates too: same masked text twice
        model = learn("sshd", obs[:4] + obs[4:])
        assert model.templates == base.templates
        assert model.index == base.index


def test_duplicate_observations_are_aggregated():
    obs = observations() + [Observation(mask("Link ok"), 5, 1000, 2000, "Link ok")]
    model = learn("sshd", obs)
    ok = model.templates[3]
    assert (ok.template, ok.count, ok.first_seen, ok.last_seen) == ("Link ok", 8, 50, 2000)


def test_match_and_fallback_for_unseen():
    model = learn("sshd", observations())
    assert model.match("Invalid user zed from 1.1.1.1 port 1") == (
        "ec2309758035ec30", "Invalid user <*> from <*> port <*>", ["zed", "1.1.1.1", "1"])
    assert model.match("something never seen 42") == ("c0c3695c8e94e2b5", "something never seen <*>", ["42"])
    assert len(model.templates) == 7 and model.learned == 6


def test_assign_array_vectorised_with_unknowns():
    model = learn("sshd", observations())
    masked = mask_array(pa.array(LINES[:3] + ["brand new", "Link ok", None]))
    out = model.assign_array(masked)
    assert out.type == pa.int32()
    assert out.to_pylist()[:5] == [1, 1, 1, 6, 3]
    assert model.templates[6].template == "brand new"


def test_extract_params_vectorised():
    model = learn("sshd", observations())
    msgs = pa.array(["Invalid user a b from 1.2.3.4 port 22", "Link ok", None, "Invalid  user x from y port 9"])
    assert model.extract_params(1, msgs).to_pylist() == [["a b", "1.2.3.4", "22"], [], [], ["x", "y", "9"]]
    assert model.extract_params(3, pa.array(["Link ok", "x"])).to_pylist() == [[], []]
    assert model.extract_params(5, pa.chunked_array([["session opened for user r by (uid=0)"]])).to_pylist() == [
        ["r", "0"]]


def test_model_pickles_small_and_works():
    model = learn("sshd", observations())
    model.assign_array(mask_array(pa.array(LINES)))  # fills caches
    clone = pickle.loads(pickle.dumps(model))
    assert clone.templates == model.templates
    assert clone.assign_array(mask_array(pa.array(LINES))).to_pylist() == [
        1, 1, 1, 5, 5, 3, 2, 3, 2, 3, 2, 0, 4, 4, 4]
    assert len(pickle.dumps(model)) < 5000


def test_no_merge_config_keeps_drain_clusters():
    model = learn("sshd", observations(), config=TemplateConfig(merge=False, split_max_values=0))
    assert "Link <*>" in [t.template for t in model.templates]


def test_store_seeding_and_update_counts():
    run1 = learn("sshd", observations())
    store1 = update_store([], [run1], "b1")
    other = StoredTemplate("nginx", "0000000000000000", "GET <*>", 5, 6, {"b0": 2}, "GET /")
    store1.append(other)
    inv1 = next(s for s in store1 if s.template.startswith("Invalid"))
    assert inv1.counts == {"b1": 3} and inv1.first_seen == 0

    later = [Observation(mask("Invalid user z from 1.1.1.1 port 2"), 2, 500, 600, "Invalid user z from 1.1.1.1 port 2")]
    run2 = learn("sshd", later, stored=store1)
    assert [t.template for t in run2.templates] == GOLDEN  # stored templates kept
    inv2 = run2.templates[1]
    assert (inv2.count, inv2.first_seen, inv2.last_seen) == (2, 0, 600)
    store2 = update_store(store1, [run2], "b2")
    inv = next(s for s in store2 if s.template.startswith("Invalid"))
    assert inv.counts == {"b1": 3, "b2": 2}
    assert next(s for s in store2 if s.template == "Link ok").counts == {"b1": 3}
    assert other in store2
    # re-running the same batch replaces its count instead of doubling it
    store3 = update_store(store2, [learn("sshd", later, stored=store2)], "b2")
    assert store3 == store2


def test_stored_template_generalised_by_new_data_carries_counts():
    stored = [StoredTemplate("s", template_id("took 3 ms"), "took 3 ms", 7, 8, {"b1": 4}, "took 3 ms")]
    obs = [Observation("took <*> ms", 3, 10, 20, "took 9 ms")]
    model = learn("s", obs, stored=stored)
    assert [(t.template, t.first_seen, t.count) for t in model.templates] == [("took <*> ms", 7, 3)]
    [new] = update_store(stored, [model], "b2")
    assert (new.template, new.counts, new.first_seen, new.last_seen) == ("took <*> ms", {"b1": 4, "b2": 3}, 7, 20)


def test_learning_cap_gives_the_same_templates_and_is_order_independent():
    """Above max_learned, Drain learns from a deterministic head and the tail is fitted/clustered after."""
    import random

    from aiops.templating.learner import Observation, TemplateConfig, learn

    obs = [Observation(f"Released reservation R{100000 + i} ({i % 7} units)", 1, i, i, f"x{i}") for i in range(300)]
    obs += [Observation(f"Webhook evt_{i:06x}ab received from stripe", 1, i, i, f"w{i}") for i in range(300)]
    obs += [Observation("cache warmed", 5, 0, 9, "cache warmed")]
    full = learn("svc", obs, config=TemplateConfig(max_learned=None))
    capped = learn("svc", obs, config=TemplateConfig(max_learned=50))
    shuffled = list(obs)
    random.Random(4).shuffle(shuffled)
    capped_again = learn("svc", shuffled, config=TemplateConfig(max_learned=50))
    assert sorted(t.template for t in capped.templates) == [
        "Released reservation <*> (<*> units)", "Webhook <*> received from stripe", "cache warmed"]
    assert sorted(t.template for t in capped.templates) == sorted(t.template for t in full.templates)
    assert [(t.template_id, t.count) for t in capped.templates] == [(t.template_id, t.count) for t in capped_again.templates]
    assert sum(t.count for t in capped.templates) == 605
    assert len(capped.index) == 601


def test_a_template_of_wildcards_only_does_not_swallow_templates_of_its_length() -> None:
    from aiops.templating.merge import merge_templates

    merged = merge_templates(["<*> <*> <*> <*>", "PacketResponder <*> for <*>", "a <*> c d", "a b c d"])
    assert merged["PacketResponder <*> for <*>"] == "PacketResponder <*> for <*>"
    assert merged["a b c d"] == "a <*> c d"
