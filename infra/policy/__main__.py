"""CrossGuard policy pack: `pulumi preview --policy-pack infra/policy` (the virtualenv's path file makes `infra`
importable, as for the program)."""

from pulumi_policy import PolicyPack

from infra.policy.rules import POLICIES

PolicyPack(name="hospital-receptionist-guardrails", policies=POLICIES)
