"""The phone line: how a call to the hospital's number reaches our agent (docs/telephony.md).

- `livekit-numbers`: numbers bought from LiveKit (by hand: a billing event); each is pointed at our dispatch rule.
- `sip-trunk`: numbers at a SIP provider, which sends calls to LiveKit; an inbound trunk accepts them only from
  the provider's addresses and/or with digest auth (its password in Secrets Manager, put by the operator), and
  a dispatch rule for that trunk routes them.
Either way the rule puts each caller in a room of their own (`<prefix><random>`) and dispatches our agent by name.

An alarm says when no call arrived for an hour while the front desk is open (its hours are stack settings, like
the agent's: docs/telephony.md, "Opening hours"): EventBridge Scheduler turns its actions on an hour after opening
(after resetting it, so a line dead since the night still notifies) and off at closing.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.config import StackSettings
from infra.secret_store import current_version, secret_name
from infra.sip_provider import LiveKitPhoneNumber, SipDispatchRule, SipInboundTrunk

TRUNK_PASSWORD_SECRET = "SIP_TRUNK_PASSWORD"  # noqa: S105 (a secret's name)  # pragma: allowlist secret
NO_CALLS_ALARM = "no-calls"  # its runbook section: docs/runbook.md
NO_CALLS_PERIOD = 3600
SCHEDULER_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def schedules(settings: StackSettings) -> dict[str, tuple[str, str, dict[str, object]]]:
    """Schedule key -> (cron expression, CloudWatch API action, its input without the alarm's name).

    At opening + 1 h the alarm is reset to OK with its actions off, a minute later its actions go on: the next
    evaluation finds an hour without calls (ALARM, an e-mail) or not. At closing its actions go off."""
    days, ready = settings.front_desk_open_days, settings.front_desk_open_hour + 1
    # Closing at midnight (24) is disarmed at 23:59 the same day: hour 0 of an open day comes before that day's
    # opening, so the last open day of the week would stay armed until the next one.
    closes = settings.front_desk_close_hour
    closing = f"0 {closes}" if closes < 24 else "59 23"
    return {
        "reset": (f"cron(0 {ready} ? * {days} *)", "setAlarmState", {"StateValue": "OK", "StateReason": "line open"}),
        "arm": (f"cron(1 {ready} ? * {days} *)", "enableAlarmActions", {}),
        "disarm": (f"cron({closing} ? * {days} *)", "disableAlarmActions", {}),
    }


class PhoneLine(pulumi.ComponentResource):
    trunk_id: pulumi.Output[str] | None
    dispatch_rule_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        kms_key_arn: pulumi.Input[str],
        alert_topic_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hospital:infra:PhoneLine", name, None, opts)
        self._name, self._settings = name, settings
        child = pulumi.ResourceOptions(parent=self)
        livekit = {"livekit_url": settings.livekit_url, "name": name}
        self.trunk_id = None
        routed_by: dict[str, object] = {"trunk_ids": [], "numbers": list(settings.phone_numbers)}
        if settings.phone_line == "sip-trunk":
            trunk = SipInboundTrunk(f"{name}-sip-trunk", {**livekit, **self._trunk_access(kms_key_arn)}, opts=child)
            self.trunk_id = trunk.id
            routed_by = {"trunk_ids": [trunk.id], "numbers": []}
        rule = SipDispatchRule(
            f"{name}-dispatch-rule",
            {**livekit, **routed_by, "room_prefix": settings.phone_room_prefix, "agent_name": settings.agent_name},
            opts=child,
        )
        self.dispatch_rule_id = rule.id
        if settings.phone_line == "livekit-numbers":
            for index, number in enumerate(settings.phone_numbers):
                LiveKitPhoneNumber(
                    f"{name}-phone-number-{index}",
                    {"livekit_url": settings.livekit_url, "phone_number": number, "dispatch_rule_id": rule.id},
                    opts=child,
                )
        self._no_calls_alarm(alert_topic_arn)
        self.register_outputs({"trunkId": self.trunk_id, "dispatchRuleId": self.dispatch_rule_id})

    def _trunk_access(self, kms_key_arn: pulumi.Input[str]) -> dict[str, object]:
        s = self._settings
        access: dict[str, object] = {
            "numbers": list(s.phone_numbers),
            "allowed_addresses": [str(net) for net in s.sip_allowed_addresses],
            "auth_username": s.sip_auth_username or "",
            "auth_password_secret_id": "",
            "auth_password_version": "",
        }
        if s.sip_auth_username:
            entry = aws.secretsmanager.Secret(
                f"{self._name}-sip-trunk-password",
                name=secret_name(self._name, TRUNK_PASSWORD_SECRET),
                description="The SIP trunk's digest-auth password: put by the operator (docs/telephony.md)",
                kms_key_id=kms_key_arn,
                recovery_window_in_days=30 if s.app_env == "prod" else 7,
                opts=pulumi.ResourceOptions(parent=self),
            )
            access |= {"auth_password_secret_id": entry.arn, "auth_password_version": current_version(entry)}
        return access

    def _no_calls_alarm(self, alert_topic_arn: pulumi.Input[str]) -> None:
        s, child = self._settings, pulumi.ResourceOptions(parent=self)
        alarm_name = f"{self._name}-{NO_CALLS_ALARM}"
        alarm = aws.cloudwatch.MetricAlarm(
            alarm_name,
            name=alarm_name,
            alarm_description=(
                f"No call started in the last hour while the line is open ({s.front_desk_open_days} "
                f"{s.front_desk_open_hour}:00-{s.front_desk_close_hour}:00 {s.hospital_time_zone}): docs/runbook.md, "
                "'Calls stop arriving'."
            ),
            namespace=s.metrics_namespace,
            metric_name="Calls",
            dimensions={"Environment": s.app_env, "Agent": s.agent_name},
            statistic="Sum",
            period=NO_CALLS_PERIOD,
            evaluation_periods=1,
            comparison_operator="LessThanThreshold",
            threshold=1,
            # No data point is no call.
            treat_missing_data="breaching",
            # Off outside opening hours; the schedules below switch them, so Pulumi leaves the flag alone.
            actions_enabled=False,
            alarm_actions=[alert_topic_arn],
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["actionsEnabled"]),
        )
        role = aws.iam.Role(
            f"{self._name}-phone-hours-role",
            name_prefix=naming.prefix(naming.IAM_ROLE, self._name, "phone"),
            assume_role_policy=SCHEDULER_TRUST_POLICY,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{self._name}-phone-hours-policy",
            name_prefix=naming.prefix(naming.IAM_ROLE_POLICY, "switch-alarm"),
            role=role.id,
            policy=alarm.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    f"cloudwatch:{action[0].upper()}{action[1:]}"
                                    for _, action, _ in schedules(s).values()
                                ],
                                "Resource": arn,
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        for key, (expression, action, arguments) in schedules(s).items():
            target = (
                {"AlarmName": alarm_name, **arguments} if action == "setAlarmState" else {"AlarmNames": [alarm_name]}
            )
            aws.scheduler.Schedule(
                f"{self._name}-phone-{key}",
                name=f"{self._name}-phone-{key}",
                schedule_expression=expression,
                schedule_expression_timezone=s.hospital_time_zone,
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=f"arn:aws:scheduler:::aws-sdk:cloudwatch:{action}",
                    role_arn=role.arn,
                    input=json.dumps(target),
                ),
                opts=child,
            )
