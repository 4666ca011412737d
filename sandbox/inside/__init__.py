"""The library of the trusted scripts that run inside a sandbox (standard library only).

Everything here runs on the sandbox's side: the warm servers (`zygote`, bwrap's; and
`docker_zygote`, `docker_launcher`, docker's) and the verifiers' entry scripts (the
code harness and runner, the chart and CAD runners) share one copy of what each of
them needs: the fd-3 channel writer (`channel`), rlimits (`limits`), descriptor and
stdio set-up (`process`), prctl, capabilities and the seccomp filter (`privileges`),
the entry loader (`loader`) and the kill-the-rest reaper (`reaper`).

No module here may import anything outside the standard library or another package of
rewardgate: the sandbox has neither. The host never copies files of this package into
a sandbox; it starts each trusted script through `boot.py` with this package's sources
in the command line (`rewardgate.sandbox.host_shipping`), and `boot` serves them from
memory under this very name, so a script imports `rewardgate.sandbox.inside.channel`
on the host (its tests, mypy) and in a sandbox alike. Host-side code of the sandbox
lives beside this folder, never in it.
"""
