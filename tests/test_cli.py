"""The command line as staff meet it: Japanese help for every verb and option, Japanese errors from
argparse itself, and output that survives a Japanese Windows console (cp932)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.ja import nfkc

ROOT = Path(__file__).resolve().parent.parent
JAPANESE = set("ぁあいうえおかがきぎくぐけげこごさざしじすずせぜそぞただちぢつづてでとどなにぬねのはばぱひびぴふぶぷへべぺほぼぽまみむめもゃやゅゆょよらりるれろわをん")


def _parsers(parser: argparse.ArgumentParser, path=()):
    """Every parser of the command line with the words that reach it (("mail", "remind")…)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def _has_japanese(text: str | None) -> bool:
    return bool(text) and any(ch in JAPANESE or "\u4e00" <= ch <= "\u9fff" for ch in text)


PARSERS = list(_parsers(cli.build_parser()))


def test_every_verb_is_listed():
    verbs = {path for path, _ in PARSERS if path}
    assert {("templates",), ("consolidate",), ("demo",), ("mail",), ("mail", "distribute"), ("mail", "remind"),
            ("mail", "return")} <= verbs


@pytest.mark.parametrize("path, parser", PARSERS, ids=[" ".join(p) or "(top)" for p, _ in PARSERS])
def test_every_verb_has_japanese_help_with_an_example(path, parser):
    assert _has_japanese(parser.description), path
    assert "例:" in parser.description, path


@pytest.mark.parametrize("path, parser", PARSERS, ids=[" ".join(p) or "(top)" for p, _ in PARSERS])
def test_every_option_has_japanese_help(path, parser):
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue  # its words come from argparse, translated (next test)
        assert _has_japanese(action.help), (path, action.option_strings or action.dest)
        if action.option_strings and not isinstance(action, (argparse._StoreTrueAction, argparse._SubParsersAction)):
            assert "例:" in action.help, (path, action.option_strings)
        if isinstance(action, argparse._StoreTrueAction):
            assert "例:" in action.help, (path, action.option_strings)


def test_help_is_japanese_through_and_through(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["consolidate", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("使い方: python -m pipeline consolidate")
    assert "オプション:" in out and "この説明を表示して終わる" in out
    for english in ("usage:", "show this help message", "options:", "positional arguments"):
        assert english not in out


@pytest.mark.parametrize("argv, expected", [
    (["consolidate", "--bogus"], "知らない指定があります: --bogus"),
    (["collectx"], "は指定できません"),
    (["mail"], "次の指定が必要です"),
    (["mail", "remind", "--smtp-port", "abc"], "'abc' は数値として読めません"),
    (["templates", "--out"], "値を1つ指定してください"),
])
def test_argparse_errors_are_japanese(capsys, argv, expected):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and "エラー:" in err and "使い方:" in err
    assert "error:" not in err and "usage:" not in err


def test_no_verb_prints_the_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "コマンド" in capsys.readouterr().out


def test_a_missing_roster_is_a_japanese_message_and_exit_2(tmp_path, capsys):
    assert cli.main(["templates", "--roster", str(tmp_path / "none.csv"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "学校一覧に誤りがあります" in err and "見つかりません" in err
    assert not (tmp_path / "out").exists()


def test_definition_may_follow_the_verb(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("survey: [", encoding="utf-8")
    assert cli.main(["templates", "--definition", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "調査定義に誤りがあります" in capsys.readouterr().err


def test_a_japanese_windows_console_does_not_stop_a_run(tmp_path):
    """School names may hold characters cp932 lacks (𠮷, emoji): the console shows a replacement, the files keep them."""
    roster = tmp_path / "schools.csv"
    roster.write_text("学校コード,学校名,校種,区,メールアドレス\n"
                      "B104221010154,仙台市立𠮷田小学校🏫,小学校,青葉区,\n"
                      "X1,仙台市立中山小学校,小学校,青葉区,\n", encoding="utf-8")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "𠮷田小.xlsx").write_bytes(b"not a workbook")
    env = {**os.environ, "PYTHONIOENCODING": "cp932"}
    out = tmp_path / "templates"
    templates = subprocess.run([sys.executable, "-m", "pipeline", "templates", "--roster", str(roster), "--out", str(out)],
                               cwd=ROOT, env=env, capture_output=True)
    assert templates.returncode == 0, templates.stderr.decode("cp932", "replace")
    assert any("𠮷田小学校🏫" in nfkc(p.name) for p in out.iterdir())  # the file name keeps the real name
    run = subprocess.run([sys.executable, "-m", "pipeline", "consolidate", "--roster", str(roster), "--inbox", str(inbox),
                          "--outbox", str(tmp_path / "outbox")], cwd=ROOT, env=env, capture_output=True)
    assert run.returncode == 0, run.stderr.decode("cp932", "replace")
    shown = run.stdout.decode("cp932")
    assert "集約が終わりました" in shown
    run_dir = Path(shown.strip().splitlines()[-1])
    assert "𠮷田小.xlsx" in (run_dir / "ledger.csv").read_text(encoding="utf-8-sig")
