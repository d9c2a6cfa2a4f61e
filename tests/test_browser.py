"""$BROWSER as people set it (xdg-open and sensible-browser read it so): a ':'-separated list
of commands tried in order, `%s` standing for the URL, else the URL as the last argument."""

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geodesic_stage.auth import browser

URL = "https://signin.example/federation?Action=login&SigninToken=secret%2Ftoken"


@pytest.mark.parametrize("command, argv", [
    ("firefox", ["firefox", URL]),
    ("firefox --new-tab", ["firefox", "--new-tab", URL]),
    ("'/opt/My Browser/run' --url=%s", ["/opt/My Browser/run", f"--url={URL}"]),
    ("w3m %s -dump", ["w3m", URL, "-dump"]),
    ("printf 100%%-%s", ["printf", f"100%-{URL}"]),
    ("echo 100%%", ["echo", "100%%", URL]),
])
def test_a_command_takes_the_url_where_percent_s_stands_else_last(command, argv):
    assert browser._argv(command, URL) == argv


@given(url=st.text(min_size=1).filter(lambda u: "\x00" not in u))
def test_the_url_is_one_argument_whatever_it_holds(url):
    """Quotes, spaces, `;` or `%s` in the URL never split it or reach a shell."""
    assert browser._argv("open -a Safari", url) == ["open", "-a", "Safari", url]
    assert browser._argv("open %s --fresh", url) == ["open", url, "--fresh"]


def fifo_browser(tmp_path, name="browser"):
    """A browser that writes its arguments into a FIFO; reading it waits however slowly it starts."""
    opened = tmp_path / f"{name}.fifo"
    os.mkfifo(opened)
    reader = os.open(opened, os.O_RDWR)  # holds the FIFO open, so neither side blocks on open
    script = tmp_path / name
    script.write_text(f'#!/bin/sh\nprintf "%s|" "$0" "$@" > {opened}\nprintf "\\n" > {opened}\n')
    script.chmod(0o755)
    return script, os.fdopen(reader, "r")


def test_the_first_command_that_starts_gets_the_url(tmp_path, monkeypatch):
    script, opened = fifo_browser(tmp_path)
    monkeypatch.setenv("BROWSER", f"/nonexistent/bin/open::{tmp_path / 'not-executable'}:{script} --tab %s:{script} second")
    (tmp_path / "not-executable").write_text("")

    assert browser.open_url(URL) is None

    with opened:
        assert opened.readline() == f"{script}|--tab|{URL}|\n"


def test_a_browser_that_cannot_start_is_one_line_naming_each_command_and_never_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER", f"/nonexistent/bin/open:{tmp_path}:xdg-open-missing %s:'unclosed")

    why = browser.open_url(URL)

    assert why == (
        "cannot start /nonexistent/bin/open (No such file or directory); "
        f"cannot start {tmp_path} (Permission denied); "
        "cannot start xdg-open-missing (No such file or directory); "
        "cannot read the BROWSER command \"'unclosed\""
    )
    assert "SigninToken" not in why


@pytest.mark.parametrize("setting, why", [(None, "BROWSER is not set"), ("", "BROWSER is not set"), (": :", "BROWSER names no command")])
def test_no_command_to_try_says_so(monkeypatch, setting, why):
    if setting is None:
        monkeypatch.delenv("BROWSER", raising=False)
    else:
        monkeypatch.setenv("BROWSER", setting)
    assert browser.open_url(URL) == why
