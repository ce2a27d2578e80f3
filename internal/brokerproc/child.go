package brokerproc

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// readyPrefix starts the line the child prints once it listens; the
// addresses follow, comma separated.
const readyPrefix = "kprod-brokerproc listening on "

// IsChild reports whether this process was started by Start, so the helper
// test knows to call Serve rather than skip.
func IsChild() bool { return os.Getenv(EnvSpec) != "" }

// Serve runs the cluster the environment describes until the process gets
// SIGTERM or SIGINT, or its standard input closes (the parent is gone);
// then it shuts the cluster down cleanly, which writes its state to the data
// directory, and returns. It fails with ErrNotChild in a process Start did
// not start, and with ErrSpec or kfake's error when the cluster cannot run.
func Serve() error {
	v := os.Getenv(EnvSpec)
	if v == "" {
		return ErrNotChild
	}
	spec, err := decodeSpec(v)
	if err != nil {
		return err
	}
	c, err := kfake.NewCluster(spec.options()...)
	if err != nil {
		return fmt.Errorf("brokerproc: starting the cluster: %w", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	orphaned := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(orphaned)
	}()
	if _, err := fmt.Fprintf(os.Stdout, "%s%s\n", readyPrefix, strings.Join(c.ListenAddrs(), ",")); err != nil {
		c.Close()
		return fmt.Errorf("brokerproc: telling the parent where we listen: %w", err)
	}
	select {
	case <-sigs:
	case <-orphaned:
	}
	c.Close()
	return nil
}

// options turns the spec into kfake options.
func (s Spec) options() []kfake.Opt {
	opts := []kfake.Opt{kfake.NumBrokers(s.Brokers)}
	if len(s.Ports) > 0 {
		opts = append(opts, kfake.Ports(s.Ports...))
	}
	if s.DataDir != "" {
		opts = append(opts, kfake.DataDir(s.DataDir))
	}
	if len(s.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(s.Partitions, s.Topics...))
	}
	if s.AllowAutoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if s.Blackhole {
		opts = append(opts, kfake.BlackholeProduce())
	}
	return opts
}
