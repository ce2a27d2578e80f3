package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the Apache Kafka release the jars are pinned to (kafka/pom.xml).
const Version = "4.4.0"

// EnvHome names the environment variable that moves the jar cache; it is
// the same one kafka/fetch.sh reads.
const EnvHome = "KPROD_KAFKA_HOME"

// SetupCommand is what a developer runs once to make real-Kafka tests run.
const SetupCommand = "kafka/fetch.sh"

// ErrNoJars reports that the Kafka jars are not in the cache folder.
var ErrNoJars = errors.New("kafkatest: Kafka jars not fetched")

// Home is the cache folder of the Kafka jars: $KPROD_KAFKA_HOME, or
// ~/.cache/kprod/kafka-<Version>. The jars are in its lib/ folder.
func Home() string {
	if h := os.Getenv(EnvHome); h != "" {
		return h
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, ".cache", "kprod", "kafka-"+Version)
}

// Lib returns the folder holding the Kafka jars, or an error wrapping
// ErrNoJars when kafka/fetch.sh has not filled it (or Java is missing).
func Lib() (string, error) {
	lib := filepath.Join(Home(), "lib")
	for _, f := range []string{".complete", "kafka_2.13-" + Version + ".jar", "kafka-tools-" + Version + ".jar"} {
		if _, err := os.Stat(filepath.Join(lib, f)); err != nil {
			return "", fmt.Errorf("%w: no %s in %s (run %s)", ErrNoJars, f, lib, SetupCommand)
		}
	}
	if _, err := javaBin(); err != nil {
		return "", err
	}
	return lib, nil
}

// javaBin is $JAVA_HOME/bin/java when JAVA_HOME is set, else java on PATH.
func javaBin() (string, error) {
	if jh := os.Getenv("JAVA_HOME"); jh != "" {
		p := filepath.Join(jh, "bin", "java")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("%w: no java on PATH (Kafka %s needs Java 17+)", ErrNoJars, Version)
	}
	return p, nil
}

// InCI reports whether the tests run under CI (CI set to anything but
// "" or "false"), where real-Kafka tests must run rather than skip.
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// RequireKafka returns the jar folder, or skips the test with one line that
// names the setup command — or, under CI, fails it.
func RequireKafka(t testing.TB) string {
	t.Helper()
	lib, err := Lib()
	if err == nil {
		return lib
	}
	if InCI() {
		t.Fatalf("real Kafka needed under CI: %v", err)
	}
	t.Skipf("real Kafka %s not set up: run %s (jars in %s)", Version, SetupCommand, filepath.Join(Home(), "lib"))
	return ""
}

// The machine lock lets one real cluster run at a time per jar cache across
// test binaries (go test runs packages in parallel); inside one process the
// lock is shared, so a package may run two clusters if its tests ask for it.
var machine struct {
	mu    sync.Mutex
	holds int
	f     *os.File
}

// lockMachine takes the machine lock, waiting (until ctx ends) for other
// processes to let go.
func lockMachine(ctx context.Context) error {
	machine.mu.Lock()
	defer machine.mu.Unlock()
	if machine.holds > 0 {
		machine.holds++
		return nil
	}
	if err := os.MkdirAll(Home(), 0o755); err != nil {
		return fmt.Errorf("kafkatest: lock: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(Home(), "run.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("kafkatest: lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return fmt.Errorf("kafkatest: lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return fmt.Errorf("kafkatest: another test process runs a Kafka cluster from %s (%s held): %w", Home(), f.Name(), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	machine.f, machine.holds = f, 1
	return nil
}

func unlockMachine() {
	machine.mu.Lock()
	defer machine.mu.Unlock()
	machine.holds--
	if machine.holds == 0 {
		_ = syscall.Flock(int(machine.f.Fd()), syscall.LOCK_UN)
		machine.f.Close()
		machine.f = nil
	}
}
