"""The example site in content/ builds and links up."""

from conftest import REPO


def test_example_site_builds(run, tmp_path):
    out = tmp_path / "out"
    result = run("build", str(REPO), "-o", str(out))
    assert result.code == 0, result.err
    assert (out / "checks" / "byd-xiaomi-car" / "index.html").is_file()
