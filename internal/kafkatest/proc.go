package kafkatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one Java child process: a broker or a console tool.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process exited and was reaped
	err  error         // Wait's answer; read only after done
}

// javaArgs are the JVM flags of every process we start: a modest heap for a
// shared machine, and a log4j2 configuration.
func javaArgs(lib, log4j string, heapMB int) []string {
	return []string{
		fmt.Sprintf("-Xmx%dM", heapMB), fmt.Sprintf("-Xms%dM", min(heapMB, 128)),
		"-XX:+UseG1GC", "-Djava.awt.headless=true",
		"-Duser.language=en", "-Duser.country=US",
		"-Dlog4j2.configurationFile=" + log4j,
		"-cp", lib + string(os.PathSeparator) + "*",
	}
}

// startProc starts java with args, output to out. The kernel kills the
// child when the test binary dies (Pdeathsig), so a crashed test leaves no
// JVM behind; a normal end goes through kill.
func startProc(args []string, stdin io.Reader, stdout, stderr io.Writer) (*proc, error) {
	bin, err := javaBin()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kafkatest: starting java: %w", err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process by its pid and waits until it is
// reaped. Signalling a process of our own fails only once it has exited, so
// the wait is bounded by the kill.
func (p *proc) kill() {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second): // cannot happen for a child we started; do not hang a test on it
		}
		return
	}
	<-p.done
}

// stop sends SIGTERM (Kafka shuts down cleanly on it) and waits up to grace,
// then kills.
func (p *proc) stop(grace time.Duration) (clean bool) {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.kill()
		return false
	}
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
		p.kill()
		return false
	}
}

// runTool runs a short-lived Java tool to completion, bounded by ctx (the
// process is killed by pid when ctx ends), and returns its standard output.
func runTool(ctx context.Context, lib, dir string, stdin io.Reader, class string, args ...string) ([]byte, error) {
	log4j, err := writeLog4j(dir, "tools", "WARN", "SYSTEM_ERR")
	if err != nil {
		return nil, err
	}
	jvm := append(javaArgs(lib, log4j, 256), "-XX:TieredStopAtLevel=1", class)
	var stdout, stderr bytes.Buffer
	p, err := startProc(append(jvm, args...), stdin, &stdout, &limitedBuffer{b: &stderr, n: 64 << 10})
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill()
		return stdout.Bytes(), fmt.Errorf("kafkatest: %s: %w (stderr: %s)", shortClass(class), ctx.Err(), strings.TrimSpace(stderr.String()))
	}
	if p.err != nil {
		return stdout.Bytes(), fmt.Errorf("kafkatest: %s: %v (stderr: %s)", shortClass(class), p.err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func shortClass(c string) string { return c[strings.LastIndexByte(c, '.')+1:] }

// writeLog4j writes a log4j2 configuration (properties format: no YAML jar
// needed) that sends everything at level and above to target (SYSTEM_OUT or
// SYSTEM_ERR), and returns its path.
func writeLog4j(dir, name, level, target string) (string, error) {
	path := dir + string(os.PathSeparator) + "log4j2-" + name + ".properties"
	conf := "status = warn\n" +
		"appender.out.type = Console\n" +
		"appender.out.name = OUT\n" +
		"appender.out.target = " + target + "\n" +
		"appender.out.layout.type = PatternLayout\n" +
		"appender.out.layout.pattern = [%d] %p %m (%c)%n\n" +
		"rootLogger.level = " + level + "\n" +
		"rootLogger.appenderRef.out.ref = OUT\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", fmt.Errorf("kafkatest: %w", err)
	}
	return path, nil
}

// limitedBuffer keeps the first n bytes written to it, for error messages.
type limitedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
	n  int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
