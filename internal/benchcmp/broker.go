package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// brokerPrefix starts the line the broker process prints with its address.
const brokerPrefix = "benchcmp-broker "

// errBadBrokerLine means the broker process did not announce a usable address.
var errBadBrokerLine = errors.New("benchcmp: bad broker line")

// serveBroker runs a one-broker kfake cluster that acknowledges produce
// requests without storing records, prints its address and serves until its
// stdin ends (the parent closed it or died) or lifetime passes.
func serveBroker(topic string, partitions int, lifetime time.Duration, stdin io.Reader, stdout io.Writer) error {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BlackholeProduce(), kfake.SeedTopics(int32(partitions), topic))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := fmt.Fprintf(stdout, "%s%s\n", brokerPrefix, strings.Join(c.ListenAddrs(), ",")); err != nil {
		return err
	}
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-time.After(lifetime):
	}
	return nil
}

// parseBrokerLine reads the broker's announcement: loopback host:port
// addresses, comma-separated.
func parseBrokerLine(line string) ([]string, error) {
	body, ok := strings.CutPrefix(strings.TrimSpace(line), strings.TrimSpace(brokerPrefix))
	if !ok {
		return nil, fmt.Errorf("%w: %q", errBadBrokerLine, line)
	}
	var addrs []string
	for _, a := range strings.Split(strings.TrimSpace(body), ",") {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBadBrokerLine, err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("%w: %q is not a loopback address", errBadBrokerLine, host)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: port %q", errBadBrokerLine, port)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// brokerProcess is the broker child the parent started.
type brokerProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	addrs  []string
	exited chan struct{} // closed once the process was reaped
}

// startBroker re-executes this program as the broker and waits (at most
// wait) for its address.
func startBroker(self, topic string, partitions int, lifetime, wait time.Duration, stderr io.Writer) (*brokerProcess, error) {
	cmd := exec.Command(self, "-serve-broker", "-topic", topic, "-partitions", strconv.Itoa(partitions),
		"-broker-lifetime", lifetime.String())
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	first := &firstLine{got: make(chan string, 1)}
	cmd.Stdout = first
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &brokerProcess{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(b.exited)
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case line := <-first.got:
		addrs, err := parseBrokerLine(line)
		if err != nil {
			b.stop()
			return nil, err
		}
		b.addrs = addrs
		return b, nil
	case <-b.exited:
		b.stop()
		return nil, fmt.Errorf("%w: the broker process exited before announcing itself", errBadBrokerLine)
	case <-timer.C:
		b.stop()
		return nil, fmt.Errorf("broker did not start within %v", wait)
	}
}

// firstLine is a writer that hands on the first line written to it and
// discards the rest.
type firstLine struct {
	buf  []byte
	sent bool
	got  chan string
}

func (f *firstLine) Write(p []byte) (int, error) {
	if f.sent {
		return len(p), nil
	}
	f.buf = append(f.buf, p...)
	if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
		f.sent = true
		f.got <- string(f.buf[:i+1])
		f.buf = nil
	} else if len(f.buf) > 4096 {
		f.sent = true
		f.got <- string(f.buf)
		f.buf = nil
	}
	return len(p), nil
}

// stop ends the broker process this parent started, by its pid.
func (b *brokerProcess) stop() {
	_ = b.stdin.Close()
	select {
	case <-b.exited:
		return
	default:
	}
	_ = b.cmd.Process.Kill()
	<-b.exited
}

// pid is the broker's process id.
func (b *brokerProcess) pid() int {
	return b.cmd.Process.Pid
}

// selfPath is the program to re-execute for the broker and the runs.
func selfPath() (string, error) { return os.Executable() }
