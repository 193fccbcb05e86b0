"""Settings precedence and the command line's answers to good and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mwm_tui.cli import main
from mwm_tui.commands.options import settings_from
from mwm_tui.commands.terminal import NO_TERMINAL, has_terminal
from mwm_tui.config import ConfigError, Settings, config_path, load_settings
from mwm_tui.domain.targets import TargetError, TlsOptions
from tests.support.cli import RunCli


def write_config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "mwm-tui" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return {"XDG_CONFIG_HOME": str(tmp_path)}


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings({}, {"XDG_CONFIG_HOME": str(tmp_path), "LANG": "C.UTF-8"})
    assert settings == Settings()
    assert [t.display() for t in settings.stomp_targets()] == ["stomp://localhost:61613"]
    assert [t.display() for t in settings.mqtt_targets()] == ["mqtt://localhost:1883"]


def test_file_then_environment_then_command_line(tmp_path: Path) -> None:
    environ = write_config(
        tmp_path, 'stomp = "stomp://file:1"\nmqtt = "mqtt://file:2"\nstale-after = 5\ndevices = 7\n'
    )
    environ |= {"MWM_MQTT": "mqtt://env:3", "MWM_DEVICES": "9"}
    settings = load_settings({"devices": 11, "stomp": None}, environ)
    assert settings.stomp == "stomp://file:1"
    assert settings.mqtt == "mqtt://env:3"
    assert settings.devices == 11
    assert settings.stale_after == 5.0


def test_passwords_come_from_environment_and_stay_out_of_repr(tmp_path: Path) -> None:
    environ = {"XDG_CONFIG_HOME": str(tmp_path), "MWM_STOMP_PASSWORD": "s3cret"}
    settings = load_settings({"stomp": "stomp://hq@broker:61613"}, environ)
    (target,) = settings.stomp_targets()
    assert target.username == "hq" and target.password == "s3cret"
    assert "s3cret" not in repr(settings) and "s3cret" not in repr(target)
    assert "s3cret" not in target.display()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MWM_DEVICES": "many"}, "MWM_DEVICES: devices = 'many' is not a valid int"),
        ({"MWM_DEMO": "perhaps"}, "MWM_DEMO: demo = 'perhaps' is not a valid bool"),
        ({"MWM_STALE_AFTER": "500"}, "need 0 < stale-after < offline-after"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({}, {"XDG_CONFIG_HOME": str(tmp_path)} | environ)


def test_unknown_or_broken_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({}, write_config(tmp_path / "a", "colour = 'red'\n"))
    with pytest.raises(ConfigError, match=r"config\.toml"):
        load_settings({}, write_config(tmp_path / "b", "stomp = \n"))


def test_config_path_follows_xdg_and_mwm_config() -> None:
    assert config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/mwm-tui/config.toml")
    assert config_path({"MWM_CONFIG": "/etc/mwm.toml"}) == Path("/etc/mwm.toml")


def test_password_in_a_url_is_refused() -> None:
    with pytest.raises(TargetError, match="MWM_STOMP_PASSWORD"):
        settings_from(["--stomp", "stomp://hq:pw@broker:61613"])


def test_help_and_version_read_well(cli: RunCli) -> None:
    shown = cli("--help")
    assert shown.returncode == 0
    for words in ("--stomp URL", "--mqtt URL", "--demo", "MWM_STOMP_PASSWORD", "config.toml"):
        assert words in shown.stdout
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("mwm-tui ")


@pytest.mark.parametrize(
    "args",
    [
        ["--stomp", "mqtt://broker:1883"],
        ["--mqtt", "http://broker"],
        ["--stomp", "stomp://hq:pw@broker"],
        ["--devices", "0"],
    ],
)
def test_bad_command_lines_get_one_clear_line_and_no_traceback(
    args: list[str], cli: RunCli
) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("mwm-tui: error: ")
    assert "Traceback" not in result.stderr
    assert "pw" not in result.stderr.replace("password", "")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_config_file_with_a_password_others_can_read_is_refused(
    tmp_path: Path, mode: int
) -> None:
    path = tmp_path / "mwm-tui" / "config.toml"
    path.parent.mkdir()
    path.write_text('mqtt = "mqtt://hq@broker"\nmqtt_password = "S3cr3t"\n', encoding="utf-8")
    path.chmod(mode)
    environ = {"XDG_CONFIG_HOME": str(tmp_path)}
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ)
    assert str(caught.value).endswith(f"fix it with: chmod 600 {path}")
    assert "S3cr3t" not in str(caught.value)
    path.chmod(0o600)
    assert load_settings({}, environ).mqtt_password == "S3cr3t"


def test_a_readable_config_file_without_passwords_is_used(tmp_path: Path) -> None:
    path = tmp_path / "mwm-tui" / "config.toml"
    path.parent.mkdir()
    path.write_text('mqtt = "mqtts://broker"\ninsecure = true\n', encoding="utf-8")
    path.chmod(0o644)
    settings = load_settings({}, {"XDG_CONFIG_HOME": str(tmp_path)})
    (target,) = settings.mqtt_targets()
    assert target.tls_options.insecure
    assert target.display() == "mqtts://broker:8883 INSECURE: certificate not verified"


def test_tls_flags_variables_and_keys_reach_both_links(tmp_path: Path) -> None:
    path = tmp_path / "mwm-tui" / "config.toml"
    path.parent.mkdir()
    path.write_text('cafile = "/etc/hq/ca.pem"\ntls-server-name = "broker.hq"\n')
    environ = {"XDG_CONFIG_HOME": str(tmp_path), "MWM_CERT": "/c.pem", "MWM_KEY": "/c.key"}
    settings = load_settings(
        {"stomp": "stomp+ssl://a", "mqtt": "mqtts://a", "tls_server_name": "a.hq"}, environ
    )
    expected = TlsOptions("/etc/hq/ca.pem", "/c.pem", "/c.key", "a.hq", insecure=False)
    assert [t.tls_options for t in settings.stomp_targets() + settings.mqtt_targets()] == [
        expected,
        expected,
    ]
    with pytest.raises(ConfigError, match="cert and key go together"):
        load_settings({"cert": "/c.pem"}, {"XDG_CONFIG_HOME": str(tmp_path)})


def test_missing_tls_file_is_one_line_at_startup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    missing = tmp_path / "nowhere.pem"
    argv = ["--mqtt", "mqtts://broker", "--cafile", str(missing)]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"mwm-tui: error: cafile {missing}: no such file\n"


def test_max_devices_comes_from_flag_variable_and_file(tmp_path: Path, cli: RunCli) -> None:
    assert load_settings({}, {"XDG_CONFIG_HOME": str(tmp_path)}).max_devices == 10_000
    from_file = write_config(tmp_path / "f", "max-devices = 500\n")
    assert load_settings({}, from_file).max_devices == 500
    assert load_settings({}, from_file | {"MWM_MAX_DEVICES": "70"}).max_devices == 70
    assert settings_from(["--max-devices", "50"]).max_devices == 50
    with pytest.raises(ConfigError, match="max-devices"):
        load_settings({"max_devices": 0}, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert "--max-devices" in cli("--help").stdout


@pytest.mark.parametrize(
    ("locale", "ascii_only"),
    [
        ({"LANG": "en_GB.UTF-8"}, False),
        ({"LANG": "C.utf8"}, False),
        ({"LANG": "de_DE.UTF-8@euro"}, False),
        ({"LANG": "C"}, True),
        ({}, True),
        ({"LANG": "en_GB.UTF-8", "LC_ALL": "POSIX"}, True),
        ({"LANG": "C", "LC_CTYPE": "fr_FR.UTF-8"}, False),
        ({"LANG": "en_US.ISO-8859-1"}, True),
        # Python under LANG=C (or no locale) sets LC_CTYPE=C.UTF-8 itself at start-up.
        ({"LANG": "C", "LC_CTYPE": "C.UTF-8"}, True),
        ({"LC_CTYPE": "C.UTF-8"}, True),
        ({"LANG": "en_GB.UTF-8", "LC_CTYPE": "C.UTF-8"}, False),
    ],
)
def test_ascii_is_chosen_when_the_locale_is_not_utf8(
    tmp_path: Path, locale: dict[str, str], ascii_only: bool
) -> None:
    assert load_settings({}, {"XDG_CONFIG_HOME": str(tmp_path)} | locale).ascii is ascii_only


def test_ascii_comes_from_flag_variable_and_file(tmp_path: Path, cli: RunCli) -> None:
    utf8 = {"LANG": "C.UTF-8"}
    assert load_settings({}, {"XDG_CONFIG_HOME": str(tmp_path)} | utf8).ascii is False
    assert load_settings({}, write_config(tmp_path / "f", "ascii = true\n") | utf8).ascii is True
    environ = {"XDG_CONFIG_HOME": str(tmp_path), "MWM_ASCII": "yes"} | utf8
    assert load_settings({}, environ).ascii is True
    assert settings_from(["--ascii"]).ascii is True
    assert "--ascii" in cli("--help").stdout


def test_without_a_terminal_it_says_so_in_one_line_and_exits_at_once() -> None:
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "mwm_tui.cli", "--demo"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "TEXTUAL_DRIVER"}
        | {"XDG_CONFIG_HOME": "/nonexistent"},
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == f"mwm-tui: error: {NO_TERMINAL}\n"
    assert time.monotonic() - began < 20


def test_a_textual_driver_in_the_environment_runs_without_a_terminal(tmp_path: Path) -> None:
    """Browser mode (textual-serve) names its driver in TEXTUAL_DRIVER and has no TTY."""
    assert has_terminal({"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"})
    env = os.environ | {
        "XDG_CONFIG_HOME": "/nonexistent",
        "XDG_DATA_HOME": str(tmp_path),
        "TEXTUAL_DRIVER": "textual.drivers.headless_driver:HeadlessDriver",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mwm_tui.cli", "--demo"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert NO_TERMINAL.encode() not in errors


def test_stomp_vhost_comes_from_flag_variable_and_file_and_reaches_the_stomp_targets(
    tmp_path: Path, cli: RunCli
) -> None:
    environ = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert [t.vhost for t in load_settings({}, environ).stomp_targets()] == ["/"]
    from_file = write_config(tmp_path / "f", 'stomp-vhost = "fleet"\n')
    assert load_settings({}, from_file).stomp_vhost == "fleet"
    assert load_settings({}, from_file | {"MWM_STOMP_VHOST": "hq"}).stomp_vhost == "hq"
    settings = settings_from(["--stomp-vhost", "night", "--stomp", "stomp://a:1,stomp://b:2"])
    assert [t.vhost for t in settings.stomp_targets()] == ["night", "night"]
    for bad in ("", "a\nb"):
        with pytest.raises(TargetError, match="virtual host"):
            load_settings({"stomp_vhost": bad}, environ).stomp_targets()
    assert "--stomp-vhost NAME" in cli("--help").stdout


def test_mwm_config_naming_a_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "hq.toml"
    with pytest.raises(ConfigError, match=f"config file {missing} .*does not exist"):
        load_settings({}, {"MWM_CONFIG": str(missing)})
    # /dev/null says "no file" on purpose, as for git and ssh
    assert load_settings({}, {"MWM_CONFIG": os.devnull, "LANG": "C.UTF-8"}) == Settings()
    result = subprocess.run(
        [sys.executable, "-m", "mwm_tui.cli", "--demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"MWM_CONFIG": str(missing)},
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"mwm-tui: error: config file {missing} (from MWM_CONFIG) does not exist"
    ]


@pytest.mark.parametrize(
    ("text", "key", "wanted"),
    [
        ("stomp = 5\n", "stomp", "a URL in quotes or a list of them"),
        ('devices = "x"\n', "devices", "a whole number"),
        ("devices = true\n", "devices", "a whole number"),
        ('ascii = "yes"\n', "ascii", "true or false"),
        ('stale-after = "soon"\n', "stale-after", "a number"),
        ("client-id = 7\n", "client-id", "a string in quotes"),
        ("mqtt = [1, 2]\n", "mqtt", "a URL in quotes or a list of them"),
    ],
)
def test_a_wrong_type_in_the_config_file_names_the_file_and_the_key(
    tmp_path: Path, text: str, key: str, wanted: str
) -> None:
    environ = write_config(tmp_path, text)
    path = tmp_path / "mwm-tui" / "config.toml"
    with pytest.raises(ConfigError) as raised:
        load_settings({}, environ)
    assert str(raised.value).startswith(f"{path}: {key} = ")
    assert str(raised.value).endswith(f"must be {wanted}")


def test_screenshot_dir_comes_from_flag_variable_and_file(tmp_path: Path, cli: RunCli) -> None:
    environ = write_config(tmp_path / "f", 'screenshot-dir = "/srv/shots"\n')
    assert load_settings({}, environ).screenshot_dir == "/srv/shots"
    environ |= {"MWM_SCREENSHOT_DIR": "/tmp/shots"}
    assert load_settings({}, environ).screenshot_dir == "/tmp/shots"
    assert settings_from(["--screenshot-dir", "here"]).screenshot_dir == "here"
    assert "--screenshot-dir" in cli("--help").stdout


def test_mwm_sim_has_a_version() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("mwm-sim")), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("mwm-sim ")
