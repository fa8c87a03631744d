"""Generated parameter values: our $[...] names and taskcat's $[taskcat_*] spellings, resolved before a deploy."""

from __future__ import annotations

import string

import pytest

from orchestrator.deploy.values import AUTO, ValueContext, expand
from orchestrator.errors import BadInput

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]
SSM = {"/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2": "ami-0123456789abcdef0", "/app/db": "db.internal"}


def ctx(sandbox: bool = True) -> ValueContext:
    return ValueContext(region="us-east-1", account=lambda: "111122223333", zones=lambda: list(ZONES),
                        ssm=SSM.get, autobucket=lambda: "cfn-autofix-templates-111122223333-us-east-1",
                        sandbox=sandbox, project="demo", test="default")


@pytest.mark.parametrize("token, expected", [
    ("$[genaz_2]", "us-east-1a,us-east-1b"),
    ("$[taskcat_genaz_3]", "us-east-1a,us-east-1b,us-east-1c"),
    ("$[taskcat_getaz_2]", "us-east-1a,us-east-1b"),  # quickstart .taskcat.yml files spell it getaz
    ("$[taskcat_gensingleaz_2]", "us-east-1b"),
    ("$[region]", "us-east-1"),
    ("$[taskcat_current_region]", "us-east-1"),
    ("$[account]", "111122223333"),
    ("$[autobucket]", "cfn-autofix-templates-111122223333-us-east-1"),
    ("$[taskcat_autobucket]", "cfn-autofix-templates-111122223333-us-east-1"),
    ("$[ssm:/app/db]", "db.internal"),
    ("$[taskcat_ssm_/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2]", "ami-0123456789abcdef0"),
    ("prefix-$[region]-suffix", "prefix-us-east-1-suffix"),
    ("$[taskcat_getkeypair]", AUTO),
])
def test_tokens(token: str, expected: str) -> None:
    assert expand({"P": token}, ctx())["P"] == expected


def test_plain_values_pass_through_untouched() -> None:
    c = ctx()
    assert expand({"A": "plain", "B": "$not[a token"}, c) == {"A": "plain", "B": "$not[a token"}
    assert c.generated == []


@pytest.mark.parametrize("token, length, special", [("$[genpass_16]", 16, False), ("$[taskcat_genpass_8A]", 8, False),
                                                     ("$[taskcat_genpass_20S]", 20, True)])
def test_passwords_have_every_class_and_are_never_reported(token: str, length: int, special: bool) -> None:
    c = ctx()
    value = expand({"Password": token}, c)["Password"]
    assert len(value) == length
    assert any(ch.islower() for ch in value) and any(ch.isupper() for ch in value) and any(ch.isdigit() for ch in value)
    assert any(ch in string.punctuation for ch in value) is special
    assert not set(value) & set('/@" ')  # characters RDS refuses in a master password
    assert c.generated == [{"parameter": "Password", "expression": token, "value": "****"}]


def test_two_passwords_differ_and_getval_copies_the_final_value() -> None:
    values = expand({"Confirm": "$[taskcat_getval_Password]", "Password": "$[genpass_12]", "Other": "$[genpass_12]"}, ctx())
    assert values["Confirm"] == values["Password"]
    assert values["Other"] != values["Password"]


def test_random_values() -> None:
    values = expand({"R": "$[random_10]", "S": "$[taskcat_random-string]", "N": "$[taskcat_random-numbers]",
                     "U": "$[taskcat_genuuid]"}, ctx())
    assert len(values["R"]) == 10 and values["R"].isalnum() and values["R"].lower() == values["R"]
    assert len(values["S"]) == 20 and values["S"].isalpha()
    assert len(values["N"]) == 20 and values["N"].isdigit()
    assert len(values["U"]) == 36 and values["U"].count("-") == 4


@pytest.mark.parametrize("token, message", [
    ("$[genaz_9]", "4 availability zone(s), 9 asked for"),
    ("$[ssm:/missing]", "SSM parameter /missing does not exist"),
    ("$[taskcat_nonsense]", "unknown generated value $[taskcat_nonsense]"),
    ("$[taskcat_getval_Nope]", "parameter Nope has no value"),
])
def test_bad_tokens_are_bad_input_naming_the_parameter(token: str, message: str) -> None:
    with pytest.raises(BadInput) as err:
        expand({"P": token}, ctx())
    assert err.value.message.startswith("parameter P: ")
    assert message in err.value.message


def test_key_pair_placeholder_needs_a_sandbox() -> None:
    with pytest.raises(BadInput, match="only on a sandbox"):
        expand({"Key": "$[taskcat_getkeypair]"}, ctx(sandbox=False))
