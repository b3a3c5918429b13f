"""CrossGuard policy pack: `pulumi preview --policy-pack infra/policy`."""

from pulumi_policy import PolicyPack

from infra.policy.rules import POLICIES

PolicyPack(name="hospital-receptionist-guardrails", policies=POLICIES)
