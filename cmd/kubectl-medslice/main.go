// Command kubectl-medslice is the kubectl plugin of medslice: with the
// binary on the PATH, `kubectl medslice book|list|describe|extend|cancel|capacity|report`
// runs it. The logic is in internal/plugin; this file wires the command
// line, the kubeconfig, the clock and the terminal together.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
	// Time zones are read from the binary when the system has no zoneinfo,
	// so local times mean the same on every machine.
	_ "time/tzdata"

	"golang.org/x/term"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/internal/plugin"
	"github.com/medslice/medslice/internal/scheme"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, time.Now, os.Getenv("TZ"))
	stop()
	os.Exit(code)
}

// run runs one command line and returns the exit code: 0 on success, 1
// with one line on stderr otherwise.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time, tz string) int {
	inv, err := plugin.Parse(args, plugin.Defaults{Location: time.Local, TZ: tz, Now: now()})
	if err != nil {
		fmt.Fprintln(stderr, "error: "+err.Error())
		return 1
	}
	if inv.Help != "" {
		fmt.Fprint(stdout, inv.Help)
		return 0
	}
	env := plugin.Env{Out: stdout, Now: now, Location: inv.Location, Output: inv.Output, OutIsTerminal: isTerminal(stdout)}
	// report verify of a file with --public-keys needs no API server: a
	// carrier checks evidence without a kubeconfig.
	if !inv.Offline() {
		c, namespace, err := connect(inv.Kube)
		if err != nil {
			fmt.Fprintln(stderr, "error: "+err.Error())
			return 1
		}
		env.Client, env.Namespace = c, namespace
	}
	if err := inv.Run(ctx, env); err != nil {
		fmt.Fprintln(stderr, "error: "+err.Error())
		return 1
	}
	return 0
}

// connect resolves the kubeconfig, context and namespace as kubectl does
// and returns a client with medslice's kinds.
func connect(k plugin.Kube) (client.Client, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.Context}
	overrides.Context.Namespace = k.Namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %s", oneLine(err.Error()))
	}
	namespace, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %s", oneLine(err.Error()))
	}
	cfg.UserAgent = "kubectl-medslice"
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return nil, "", fmt.Errorf("connecting to %s: %s", cfg.Host, oneLine(err.Error()))
	}
	return c, namespace, nil
}

// isTerminal says whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func oneLine(s string) string {
	out := []rune(s)
	for i, r := range out {
		if r == '\n' || r == '\r' {
			out[i] = ' '
		}
	}
	return string(out)
}
