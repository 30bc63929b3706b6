"""docs/notification-examples.md shows what cityops sends: it is the output of notifications.examples."""

from pathlib import Path

from notifications.examples import examples_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "notification-examples.md"


def test_the_documented_examples_are_what_the_code_writes() -> None:
    assert DOC.read_text(encoding="utf-8") == examples_markdown(), (
        "the message formats changed: run `python -m notifications.examples > docs/notification-examples.md`")


def test_every_channel_kind_is_shown_in_both_languages() -> None:
    page = examples_markdown()
    for marker in ("## E-mail", "## Our webhook", "## WeCom", "## DingTalk", "## Feishu", "## SMS"):
        section = page.split(marker, 1)[1].split("\n## ", 1)[0]
        assert "English:" in section and "Chinese (zh-CN):" in section, marker
