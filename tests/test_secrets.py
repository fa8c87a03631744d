"""Secrets as a set: NoEcho values (given and Default) never reach a sink, nested and overlapping ones included."""

from __future__ import annotations

import json
import string

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.redact import MIN_TOKEN, REDACTED, Redactor, noecho_values

ALNUM = string.ascii_letters + string.digits
token = st.text(alphabet=ALNUM, min_size=MIN_TOKEN, max_size=12)
filler = st.text(alphabet=ALNUM + " /:-_.", max_size=12)


# End-to-end sinks hold words, hex run ids and timestamps of their own: a planted secret there must be a
# string no sink could contain by chance (mixed case and a digit), or finding it proves nothing.
distinctive = st.text(alphabet=ALNUM, min_size=6, max_size=12).filter(
    lambda t: any(c.isupper() for c in t) and any(c.islower() for c in t) and any(c.isdigit() for c in t))


@st.composite
def secret_sets(draw, token=token) -> list[str]:
    """Two to four secrets where one may contain another (nested) or share a head with another's tail."""
    base = draw(token)
    secrets = [base]
    for _ in range(draw(st.integers(1, 3))):
        shape = draw(st.sampled_from(["nested", "overlap", "free"]))
        if shape == "nested":
            secrets.append(draw(filler.filter(lambda f: "*" not in f)).replace(" ", "") + base + draw(token))
        elif shape == "overlap":
            cut = draw(st.integers(1, len(base) - 1))
            secrets.append(base[cut:] + draw(token))
        else:
            secrets.append(draw(token))
    return secrets


@given(secrets=secret_sets(), pieces=st.lists(st.tuples(filler, st.integers(0, 3)), min_size=1, max_size=8))
def test_no_planted_secret_survives_in_any_order_of_insertion(secrets, pieces):
    text = "".join(chunk + secrets[i % len(secrets)] for chunk, i in pieces)
    # Overlaps glued together as well: the tail of one secret running into the next.
    text += "".join(secrets)
    for order in (secrets, list(reversed(secrets))):
        scrubbed = Redactor(order).text(text)
        for secret in secrets:
            assert secret not in scrubbed, (secret, scrubbed)


@given(short=st.text(alphabet=ALNUM, min_size=1, max_size=MIN_TOKEN - 1), text=st.text(alphabet=ALNUM + " ", max_size=40))
def test_short_secrets_are_redacted_only_as_whole_values(short, text):
    redactor = Redactor([short])
    assert redactor.text(short) == REDACTED
    assert redactor.value({"p_": short, "q_": [short]}) == {"p_": REDACTED, "q_": [REDACTED]}
    if text != short:
        assert redactor.text(text) == text  # no confetti, no hint of where the secret was


def test_noecho_values_take_given_default_and_list_items():
    document = {"Parameters": {"A": {"Type": "String", "NoEcho": True, "Default": "defaultSecret"},
                               "L": {"Type": "CommaDelimitedList", "NoEcho": "true"},
                               "Open": {"Type": "String", "Default": "visible"}}}
    found = noecho_values(document, {"A": "givenSecret", "L": "first1,second2"})
    assert set(found) == {"givenSecret", "defaultSecret", "first1,second2", "first1", "second2"}


TEMPLATE = """\
Parameters:
  Given:
    Type: String
    NoEcho: true
  Def:
    Type: String
    NoEcho: true
    Default: "{default}"
Resources:
  Stored:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Name: !Sub "/p/${{Def}}"
      Value: !Ref Given
  EchoingRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{{Effect: Allow, Principal: {{Service: codedeploy.amazonaws.com}}, Action: "sts:AssumeRole"}}]
      ManagedPolicyArns: [!Sub "arn:aws:iam::aws:policy/${{Given}}${{Def}}"]
Outputs:
  Leak:
    Value: !Sub "${{Given}}${{Def}}"
"""


def _json_leaves(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_leaves(item)
    elif isinstance(value, str):
        yield value


# No shrinking: each example is two real runs, and the failing secrets are printed as they are.
@settings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secrets=secret_sets(distinctive))
@example(secrets=["Zq0000x", "Zq0000x"])  # the same secret twice
@example(secrets=["TAILSECRET9", "policyTAILSECRET9x"])
def test_planted_secrets_reach_no_sink_of_deploy_or_verify(secrets, tmp_path_factory, monkeypatch):
    work = tmp_path_factory.mktemp("secrets")
    monkeypatch.chdir(work)
    given_value, default_value = secrets[0], secrets[-1] if len(secrets) > 1 else secrets[0] + "Tail"
    (work / "t.yaml").write_text(TEMPLATE.format(default=default_value))
    (work / "m.toml").write_text(f'templates = ["t.yaml"]\n[[parameter_sets]]\nname = "s"\n'
                                 f'values = {{ Given = "{given_value}" }}\n')
    (work / "cfn-autofix.toml").write_text(f'[run]\njournal = "{work / "journal.jsonl"}"\n')
    runner = CliRunner()
    deploy = runner.invoke(app, ["--log-json", "deploy", "t.yaml", "--param", f"Given={given_value}",
                                 "--report-json", "r.json", "--max-attempts", "1"])
    assert deploy.exit_code in (0, 1), deploy.output
    verify = runner.invoke(app, ["--log-json", "verify", "--matrix", "m.toml", "--junit", "j.xml",
                                 "--report-md", "r.md", "--report-json", "v.json", "--workers", "1"])
    assert verify.exit_code in (0, 1), verify.output
    sinks = {
        "deploy stdout": deploy.stdout, "deploy logs": deploy.stderr, "report": (work / "r.json").read_text(),
        "journal": (work / "journal.jsonl").read_text(), "verify stdout": verify.stdout,
        "verify logs": verify.stderr, "junit": (work / "j.xml").read_text(), "markdown": (work / "r.md").read_text(),
        "verify json": (work / "v.json").read_text(),
    }
    # The secrets really were in play: AWS's own failure reason quoted them, and it reached the report hidden.
    report = json.loads(sinks["report"])
    assert REDACTED in json.dumps(report)
    planted = {given_value, default_value, *secrets} & {given_value, default_value, given_value + default_value}
    for name, text in sinks.items():
        for secret in planted:
            assert secret not in text, f"{secret!r} leaked into {name}"
    for name in ("report", "verify json"):
        assert given_value not in set(_json_leaves(json.loads(sinks[name])))
