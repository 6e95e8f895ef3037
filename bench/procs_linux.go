package main

import (
	"os/exec"
	"syscall"
)

// setChildAttrs makes the kernel kill a child when the harness dies, even by
// SIGKILL, so no server outlives a run.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
