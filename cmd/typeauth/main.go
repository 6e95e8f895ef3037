// Command typeauth runs the TypeAuth service (`typeauth serve`) and talks to
// its management API (`typeauth apps|keys|rootkeys|audit …`).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/typeauth/typeauth/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
