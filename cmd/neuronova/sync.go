package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/neuronova/neuronova/sync/synccli"
)

// cmdSync is `neuronova sync`: one sync round with the server (sync/synccli), cancelled by Ctrl-C.
func cmdSync(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := synccli.Command(ctx, args, os.Getenv, os.Stdin, stdout, stderr)
	if errors.Is(err, synccli.ErrUsage) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return err
}
