package brokerproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StartTimeout bounds how long Start waits for the child to listen when ctx
// has no earlier deadline.
const StartTimeout = 30 * time.Second

// Proc is a running broker process.
type Proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addrs []string
	ports []int

	out  *syncBuffer   // the child's output, for diagnostics
	done chan struct{} // closed once the child exited and its output is read
}

// Start re-executes the running test binary to run only helperTest (a test
// that calls Serve), with spec in its environment, and returns once the
// child listens. The child dies with the parent: it watches its standard
// input, which only the parent holds.
func Start(ctx context.Context, helperTest string, spec Spec) (*Proc, error) {
	if helperTest == "" {
		return nil, fmt.Errorf("%w: no helper test named", ErrSpec)
	}
	return StartProgram(ctx, spec, os.Args[0], "-test.run=^"+helperTest+"$", "-test.count=1", "-test.timeout=0")
}

// StartProgram is Start for a command rather than a test binary: it runs
// program with args, whose main calls Serve when IsChild reports true.
func StartProgram(ctx context.Context, spec Spec, program string, args ...string) (*Proc, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	env, err := spec.encode()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()

	cmd := exec.Command(program, args...)
	cmd.Env = append(os.Environ(), EnvSpec+"="+env)
	p := &Proc{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	ready := make(chan string, 1)
	go func() {
		p.scan(stdout, ready)
		_ = cmd.Wait()
		close(p.done)
	}()
	select {
	case list := <-ready:
		if p.addrs, p.ports, err = parseListening(list); err != nil {
			_ = p.Kill()
			return nil, err
		}
	case <-p.done:
		return nil, fmt.Errorf("%w: the child exited (%v): %s", ErrStart, cmd.ProcessState, p.Output())
	case <-ctx.Done():
		_ = p.Kill()
		return nil, fmt.Errorf("%w: %w: %s", ErrStart, ctx.Err(), p.Output())
	}
	return p, nil
}

// parseListening reads the addresses of the child's ready line: loopback
// host:port pairs, comma separated. Anything else means the child is not
// the broker we started.
func parseListening(list string) ([]string, []int, error) {
	var addrs []string
	var ports []int
	for _, a := range strings.Split(strings.TrimSpace(list), ",") {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: the child listens on %q: %w", ErrStart, a, err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, nil, fmt.Errorf("%w: the child listens on %q, not a loopback address", ErrStart, a)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, nil, fmt.Errorf("%w: the child listens on port %q", ErrStart, port)
		}
		addrs = append(addrs, a)
		ports = append(ports, n)
	}
	return addrs, ports, nil
}

// scan reads the child's standard output: the ready line goes to ready,
// everything else to the diagnostics buffer.
func (p *Proc) scan(r io.Reader, ready chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, readyPrefix); ok {
			select {
			case ready <- rest:
			default:
			}
			continue
		}
		_, _ = p.out.Write([]byte(line + "\n"))
	}
	_, _ = io.Copy(p.out, r) // a line too long for the scanner
}

// Addrs is where the brokers listen, host:port each.
func (p *Proc) Addrs() []string { return append([]string(nil), p.addrs...) }

// Ports is the brokers' ports, to restart the cluster where it was.
func (p *Proc) Ports() []int { return append([]int(nil), p.ports...) }

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Output is what the child wrote so far, for test failure messages.
func (p *Proc) Output() string { return p.out.String() }

// Stop asks the child to shut down cleanly (SIGTERM: the cluster writes its
// state to the data directory) and waits for it to exit. When ctx ends
// first, the child is killed and ctx's error returned.
func (p *Proc) Stop(ctx context.Context) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("brokerproc: signalling pid %d: %w", p.Pid(), err)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		_ = p.Kill()
		return ctx.Err()
	}
}

// Kill ends the child at once (SIGKILL), as a crash would, and waits for it
// to exit. Killing a child that already exited is not an error.
func (p *Proc) Kill() error {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("brokerproc: killing pid %d: %w", p.Pid(), err)
	}
	_ = p.stdin.Close()
	<-p.done
	return nil
}

// syncBuffer is a bytes.Buffer safe for the writer goroutines and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	const limit = 1 << 20 // keep the tail only
	if b.buf.Len()+len(p) > limit {
		b.buf.Next(b.buf.Len() + len(p) - limit)
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
