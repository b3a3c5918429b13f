"""Run the Pulumi program under `pulumi.runtime.set_mocks` with a stack file's settings, and record every
resource's inputs (which ones are secret, what each depends on) and the stack's exports.

The program is started the way Pulumi's Python language host starts it (tests.infra.language_host has the details):
from Pulumi.yaml's `main` folder as working directory, `runpy.run_path(".", run_name="__main__")`, the host's
`sys.path` and a fresh set of modules. Sources: https://github.com/pulumi/pulumi, pkg/engine/project.go (`getPwdMain`:
a folder `main` becomes pwd + entry point "."), sdk/python/cmd/pulumi-language-python/main.go (`constructArguments`)
and sdk/python/cmd/pulumi-language-python-exec (`os.chdir(args.pwd)`, `runpy.run_path(args.PROGRAM,
run_name="__main__")`). Only the resource monitor is a mock."""

from __future__ import annotations

import asyncio
import json
import runpy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings

from infra.config import PROJECT
from tests.infra.language_host import as_language_host, program_location

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# This made-up account's zone names and the zone IDs they map to (names map to different zones in each account).
ZONE_IDS = {"a": "use1-az4", "b": "use1-az6", "c": "use1-az1", "d": "use1-az2", "e": "use1-az3", "f": "use1-az5"}

# Values an operator sets with `pulumi config set` (made up for tests).
OPERATOR_VALUES = {
    "livekitUrl": "wss://hospital-test.livekit.cloud",
    "alertEmail": "oncall@hospital.test",
    "livekitPrincipalArn": "arn:aws:iam::123456789012:role/livekit-private-links",
    "consoleDomain": "console.hospital.test",
}
# Provider keys as an operator would type them (made up). They belong in Secrets Manager only: the program must
# refuse them as config and never see them otherwise (tests/infra/test_secret_store.py).
FAKE_PROVIDER_KEYS = {
    "livekitApiKey": "APItestkey0001",
    "livekitApiSecret": "made-up-livekit-secret-0001",
    "deepgramApiKey": "made-up-deepgram-0001",
    "openaiApiKey": "sk-made-up-openai-0001",
    "cartesiaApiKey": "made-up-cartesia-0001",
}
# Config secrets a stack sets by default: none.
FAKE_SECRETS: dict[str, str] = {}
FAKE_METRICS_SECRET = "made-up-aws-secret-access-key-0001"
ACCOUNT_ID = "123456789012"
# The version id Secrets Manager reports for a value the operator put.
OPERATOR_VERSION_ID = "operator-version-0001"
FAKE_APP_PASSWORD = "MadeUpGeneratedAppPassword0001"


@dataclass
class Resource:
    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    secret_inputs: set[str]
    dependencies: set[str]
    additional_secret_outputs: list[str]


@dataclass
class Run:
    resources: list[Resource] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Resource:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {[r.name for r in found]}"
        return found[0]

    def named(self, suffix: str) -> Resource:
        found = [r for r in self.resources if r.name.endswith(suffix)]
        assert len(found) == 1, f"expected one resource named *{suffix}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        return next(r for r in self.resources if r.urn == urn)


def _contains_secret(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return True
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks, run: Run) -> None:
        super().__init__(mocks)
        self.run = run

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.object)
            inputs = rpc.deserialize_properties(request.object)
            self.run.resources.append(
                Resource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=dict(inputs),
                    secret_inputs={key for key, value in raw.items() if _contains_secret(value)},
                    dependencies=set(request.dependencies),
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                )
            )
        return response


def _balancer_arns(name: str, kind: str | None) -> dict[str, str]:
    suffix = f"{'app' if kind == 'application' else 'net'}/{name}/0123456789abcdef"
    return {
        "arn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:loadbalancer/{suffix}",
        "arnSuffix": suffix,
        "dnsName": f"{name}-0123456789.{REGION}.elb.amazonaws.com",
    }


class AwsMocks(pulumi.runtime.Mocks):
    """Stand-ins for the cloud: echo the inputs and add the outputs AWS would compute."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        name = args.name
        state.setdefault("arn", f"arn:aws:mock:{REGION}:123456789012:{name}")
        extra: dict[str, dict[str, Any]] = {
            "aws:rds/instance:Instance": {
                "address": f"{name}.c0ffee.{REGION}.rds.amazonaws.com",
                "endpoint": f"{name}.c0ffee.{REGION}.rds.amazonaws.com:5432",
                "masterUserSecrets": [
                    {
                        "secretArn": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:rds!db-{name}",
                        "secretStatus": "active",
                    }
                ],
            },
            "aws:rds/proxy:Proxy": {"endpoint": f"{name}.proxy-c0ffee.{REGION}.rds.amazonaws.com"},
            "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": {"name": "default"},
            "aws:ec2/vpcEndpointService:VpcEndpointService": {
                "serviceName": f"com.amazonaws.vpce.{REGION}.vpce-svc-0123456789abcdef0"
            },
            "aws:iam/accessKey:AccessKey": {"secret": FAKE_METRICS_SECRET},
            "random:index/randomPassword:RandomPassword": {"result": FAKE_APP_PASSWORD},
            "aws:secretsmanager/secretVersion:SecretVersion": {"versionId": f"version-{name}"},
            "aws:ec2/vpc:Vpc": {"cidrBlock": args.inputs.get("cidrBlock")},
            # ELB ARNs as AWS forms them: the console checks its load balancer's ARN (console/identity.py).
            "aws:lb/loadBalancer:LoadBalancer": _balancer_arns(name, args.inputs.get("loadBalancerType")),
            "aws:lb/targetGroup:TargetGroup": {
                "arn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:targetgroup/{name}/0123456789abcdef",
                "arnSuffix": f"targetgroup/{name}/0123456789abcdef",
            },
        }
        state.update(extra.get(args.typ, {}))
        return f"{name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": [f"{REGION}{n}" for n in ZONE_IDS], "zoneIds": list(ZONE_IDS.values())}, []
        if args.token == "aws:ssm/getParameter:getParameter":
            return {"name": args.args["name"], "value": "ami-0123456789abcdef0", "type": "String"}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/deployer",
                "userId": "AIDAMOCK",
            }, []
        if args.token == "aws:secretsmanager/getSecretVersions:getSecretVersions":
            version = {"versionId": OPERATOR_VERSION_ID, "versionStages": ["AWSCURRENT"], "createdTime": "x"}
            return {"secretId": args.args["secretId"], "versions": [version]}, []
        if args.token == "aws:ec2/getVpc:getVpc":
            return {"id": args.args["id"], "cidrBlock": "10.9.0.0/16"}, []
        return {}, []


def stack_values(stack: str) -> dict[str, Any]:
    """A stack file's settings (without the project prefix)."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return {key.removeprefix(f"{PROJECT}:"): value for key, value in document["config"].items()}


def _as_config_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def run_program(
    stack: str,
    overrides: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    run: Run | None = None,
    project_root: Path = ROOT,
    *,
    preview: bool = False,
) -> Run:
    """Run the project's program fresh under mocks with the stack file's settings plus operator values.

    Pass `run` to keep what was recorded when the program fails, `project_root` to run another copy of the project
    (its Pulumi.yaml says where the program is), `preview` to run it as `pulumi preview` does (a dry run)."""
    values = {**stack_values(stack), **OPERATOR_VALUES, **(overrides or {})}
    secrets = FAKE_SECRETS if secrets is None else secrets
    run = Run() if run is None else run
    mocks = AwsMocks()
    settings.ROOT.set(None)
    # The language host runs the program on an event loop of its own; a test that ran asyncio.run() before this
    # one leaves the main thread with none, and Pulumi's runtime asks for the current one.
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=RecordingMonitor(mocks, run))
    config = {f"{PROJECT}:{key}": _as_config_text(value) for key, value in values.items() if value is not None}
    config.update({f"{PROJECT}:{key}": value for key, value in secrets.items()})
    pulumi.runtime.set_all_config(config, [f"{PROJECT}:{key}" for key in secrets])

    pwd, entry = program_location(project_root)

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        runpy.run_path(entry, run_name="__main__")
        outputs = settings.get_root_resource().outputs
        run.secret_exports.update(name for name, value in outputs.items() if _is_secret(value))
        return pulumi.Output.all(**{k: pulumi.Output.from_input(v) for k, v in outputs.items()}).apply(
            run.exports.update
        )

    with as_language_host(pwd, entry):
        program()
    return run


def _is_secret(value: Any) -> bool:
    if isinstance(value, pulumi.Output):
        return bool(pulumi.runtime.sync_await._sync_await(value.is_secret()))
    if isinstance(value, dict):
        return any(_is_secret(v) for v in value.values())
    return False


@contextmanager
def program_raises(error: type[BaseException], match: str | None = None) -> Iterator[pytest.ExceptionInfo]:
    """`pytest.raises` for an error the program raises. Its modules are its own fresh imports, as under the
    language host, so its error class is a different object from the test's: match it by name."""
    with pytest.raises(Exception, match=match) as caught:
        yield caught
    assert caught.type.__name__ == error.__name__, f"expected {error.__name__}, got {caught.type.__name__}"
