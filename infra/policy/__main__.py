"""CrossGuard policy pack: `pulumi preview --policy-pack infra/policy` (`infra` imports because the project is
installed into the virtualenv, as for the program)."""

from pulumi_policy import PolicyPack

from infra.policy.rules import POLICIES

PolicyPack(name="hospital-receptionist-guardrails", policies=POLICIES)
