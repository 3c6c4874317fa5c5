"""Production hardening (config/settings.py's last section): Argon2, DEBUG off unless asked, `check
--deploy` clean with production settings, cookies and HSTS behind a TLS proxy, and django-axes' lockout
of repeated failed admin sign-ins."""

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.core.management import call_command
from django.test import Client, override_settings

import config.settings as project_settings
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-123456"  # UserFactory's


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter, with only PATH and the given variables in its environment."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def settings_value(expression: str, **env: str) -> str:
    result = run_python(
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        f"from django.conf import settings; print({expression})",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# --- passwords ---------------------------------------------------------------------------------------


def test_new_passwords_are_hashed_with_argon2_and_old_pbkdf2_hashes_still_verify(settings):
    # tests/conftest.py switches every test to MD5 for speed; this one puts the project's list back.
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"

    hashed = make_password("correct horse battery staple")
    assert hashed.startswith("argon2$")
    assert check_password("correct horse battery staple", hashed)
    assert not check_password("wrong", hashed)

    old = get_hasher("pbkdf2_sha256").encode("an old password", get_hasher("pbkdf2_sha256").salt())
    assert check_password("an old password", old)  # users from before the switch can still sign in


# --- DEBUG ------------------------------------------------------------------------------------------


def test_debug_is_off_unless_the_environment_turns_it_on():
    assert settings_value("settings.DEBUG") == "False"
    assert settings_value("settings.DEBUG", DEBUG="true") == "True"


def test_make_demo_runs_the_server_with_debug_on():
    # make is one of the two things the README requires, so its absence is a failure here, not a skip.
    assert shutil.which("make") is not None, "make is not installed"
    # -n prints the recipe without running it (no install, no migrate, no server).
    commands = subprocess.run(
        ["make", "-n", "-W", "requirements.lock", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout
    server = [line for line in commands.splitlines() if "runserver" in line]
    assert server and all(line.startswith("DEBUG=true ") for line in server), commands


# --- manage.py check --deploy ------------------------------------------------------------------------

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7Qv1tB-ljz0Qk3m4nH_pWq9sR2uV5yZ8aC6dE1fG4hJ7kL0mN3oP6rS9tU2wX5",
    "ALLOWED_HOSTS": "bookings.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def check_deploy(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_the_production_settings_of_ci():
    result = check_deploy(**PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_a_secret_key_or_hsts():
    without_key = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = check_deploy(**without_key)
    assert result.returncode != 0 and "security.W009" in result.stderr + result.stdout

    result = check_deploy(**{**PRODUCTION, "SECURE_HSTS_SECONDS": "0"})
    assert result.returncode != 0 and "security.W004" in result.stderr + result.stdout


# --- cookies, HSTS and the proxy ---------------------------------------------------------------------


def test_the_proxy_header_is_trusted_only_behind_a_proxy():
    assert settings_value("settings.SECURE_PROXY_SSL_HEADER") == "None"
    assert (
        settings_value("settings.SECURE_PROXY_SSL_HEADER", BEHIND_PROXY="true") == "('HTTP_X_FORWARDED_PROTO', 'https')"
    )
    assert settings_value("(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE)") == "(True, True)"


@pytest.mark.django_db
@override_settings(
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), SECURE_HSTS_SECONDS=31536000, SECURE_SSL_REDIRECT=True
)
def test_behind_the_tls_proxy_pages_get_hsts_and_plain_http_is_redirected():
    client = Client()
    through_proxy = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    assert through_proxy.status_code == 200
    assert through_proxy["Strict-Transport-Security"].startswith("max-age=31536000")

    plain = client.get("/admin/login/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_http_only_secure_and_same_site():
    user = UserFactory()
    client = Client()
    login_page = client.get("/admin/login/")
    csrf = login_page.cookies["csrftoken"]
    assert csrf["httponly"] and csrf["secure"] and csrf["samesite"] == "Lax"

    signed_in = client.post("/admin/login/", {"username": user.username, "password": PASSWORD})
    session = signed_in.cookies["sessionid"]
    assert session["httponly"] and session["secure"] and session["samesite"] == "Lax"


def test_no_script_of_ours_reads_cookies():
    # CSRF_COOKIE_HTTPONLY hides the CSRF cookie from JavaScript: the forms post the token from the page.
    for path in [*ROOT.joinpath("static").rglob("*.js"), *ROOT.joinpath("templates").rglob("*.html")]:
        assert "document.cookie" not in path.read_text(encoding="utf-8"), path


# --- django-axes: failed admin sign-ins lock out -----------------------------------------------------


def sign_in(client: Client, username: str, password: str, ip: str = "203.0.113.7"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture
def member(db):
    return UserFactory(username="locked-member")


def lock_out(member, ip="203.0.113.7"):
    client = Client()
    for _ in range(5):
        response = sign_in(client, member.username, "wrong-password", ip)
        assert response.status_code in (200, 429)
    return client


def test_five_wrong_passwords_lock_the_user_out_even_with_the_right_one(member, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    client = Client()
    for attempt in range(4):
        response = sign_in(client, member.username, "wrong-password")
        assert response.status_code == 200 and "Please enter the correct" in response.content.decode(), attempt
    fifth = sign_in(client, member.username, "wrong-password")
    assert fifth.status_code == 429

    refused = sign_in(Client(), member.username, PASSWORD)

    page = refused.content.decode()
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("text/html") and "Too many failed sign-ins" in page
    assert "5 wrong passwords" in page and "15 minutes" in page and "locked-member" in page
    assert int(refused["Retry-After"]) == 15 * 60
    assert "Content-Security-Policy" in refused
    assert "sessionid" not in refused.cookies  # nobody was signed in


def test_the_lockout_holds_one_username_from_one_address_only(member):
    lock_out(member)
    other = UserFactory(username="other-member")

    assert sign_in(Client(), other.username, PASSWORD).status_code == 302  # another user, same address
    assert sign_in(Client(), member.username, PASSWORD, ip="198.51.100.9").status_code == 302  # same user elsewhere
    assert sign_in(Client(), member.username, PASSWORD).status_code == 429  # the locked pair still is


def test_a_forged_x_forwarded_for_does_not_escape_the_lockout(member):
    client = Client()
    for n in range(5):
        client.post(
            "/admin/login/",
            {"username": member.username, "password": "wrong"},
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    response = client.post(
        "/admin/login/",
        {"username": member.username, "password": PASSWORD},
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="10.9.9.9",
    )
    assert response.status_code == 429  # no proxy configured: the header is the client's own word


def test_behind_a_proxy_the_lockout_counts_the_address_the_proxy_appended(member, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = Client()
    for n in range(5):
        client.post(
            "/admin/login/",
            {"username": member.username, "password": "wrong"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 203.0.113.7",
        )

    def attempt(forwarded):
        return client.post(
            "/admin/login/",
            {"username": member.username, "password": PASSWORD},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=forwarded,
        ).status_code

    assert attempt("203.0.113.7") == 429
    assert attempt("198.51.100.9") == 302  # another client behind the same proxy
    assert AccessAttempt.objects.filter(ip_address="203.0.113.7").exists()


def test_the_lockout_ends_after_the_cool_off(member, settings):
    lock_out(member)
    assert sign_in(Client(), member.username, PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))

    assert sign_in(Client(), member.username, PASSWORD).status_code == 302


def test_axes_reset_lifts_the_lockout(member):
    lock_out(member)
    call_command("axes_reset_username", member.username, stdout=StringIO())

    assert sign_in(Client(), member.username, PASSWORD).status_code == 302


def test_a_successful_sign_in_resets_the_count(member):
    client = Client()
    for _ in range(4):
        sign_in(client, member.username, "wrong-password")
    assert sign_in(Client(), member.username, PASSWORD).status_code == 302
    for _ in range(4):
        sign_in(client, member.username, "wrong-password")

    assert sign_in(Client(), member.username, PASSWORD).status_code == 302  # 4 + 4, not 8 in a row
