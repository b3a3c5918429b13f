"""The receptionist's tools, one module per group: identity, directory, appointments, people. Each group is a
mixin over `agent.guard.ToolGuard`, whose step guard every tool runs under; each tool checks its arguments
(agent/tool_args.py) and calls the data layer (`agent.hospital.Hospital`)."""
