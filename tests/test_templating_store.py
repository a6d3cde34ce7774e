import gzip

import pytest

from aiops.templating.learner import StoredTemplate
from aiops.templating.store import FileTemplateStore, InMemoryTemplateStore, TemplateStoreError

T = [
    StoredTemplate("sshd", "0123456789abcdef", "Invalid user <*> from <*>", 10, 20, {"b1": 3, "b2": 4}, "Invalid user a from b"),
    StoredTemplate("app", "fedcba9876543210", "took <*> ms", 1, 2, {"b1": 1}, "took 3 ms"),
]


@pytest.mark.parametrize("name", ["store.json", "store.json.gz"])
def test_file_store_roundtrip(tmp_path, name):
    store = FileTemplateStore(str(tmp_path / name))
    assert store.load() == []
    store.save(T)
    store.save(T)  # overwrite
    assert sorted(store.load()) == sorted(T)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left


def test_gzip_file_is_gzip(tmp_path):
    FileTemplateStore(str(tmp_path / "s.json.gz")).save(T)
    assert gzip.decompress((tmp_path / "s.json.gz").read_bytes()).startswith(b"{")


@pytest.mark.parametrize("content", [b"{not json", b'{"version": 99, "templates": []}', b'{"version": 1}', b"\xff\xfe"])
def test_corrupt_file_raises_clear_error(tmp_path, content):
    (tmp_path / "s.json").write_bytes(content)
    with pytest.raises(TemplateStoreError, match="s.json"):
        FileTemplateStore(str(tmp_path / "s.json")).load()


def test_corrupt_gzip_raises(tmp_path):
    (tmp_path / "s.json.gz").write_bytes(b"plain text")
    with pytest.raises(TemplateStoreError, match="cannot read template store"):
        FileTemplateStore(str(tmp_path / "s.json.gz")).load()


def test_in_memory_store_copies():
    store = InMemoryTemplateStore()
    assert store.load() == []
    store.save(T)
    loaded = store.load()
    loaded[0].counts["b9"] = 1
    assert store.load()[0].counts == {"b1": 3, "b2": 4}
    assert store.saves == 1
