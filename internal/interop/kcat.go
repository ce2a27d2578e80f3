package interop

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Find returns the path of the kcat binary (also known as kafkacat), or an
// error wrapping ErrNoKcat.
func Find() (string, error) {
	for _, name := range []string{"kcat", "kafkacat"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: neither kcat nor kafkacat is on PATH", ErrNoKcat)
}

// Consume runs the kcat binary at bin to read topic from its first offset to
// the end of every partition, bootstrapping from the one broker seed, and
// returns the records in the order kcat printed them. librdkafka checks the
// CRC of every batch it fetches. extra arguments go to kcat as they are
// (for example "-X", "security.protocol=ssl").
func Consume(ctx context.Context, bin, seed, topic string, extra ...string) ([]Message, error) {
	args := append([]string{
		"-C", "-b", seed, "-t", topic,
		"-o", "beginning", "-e", // from the start, exit at the end
		"-J", "-q",
		"-X", "check.crcs=true",
	}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w (stderr: %s)", ErrKcat, ctx.Err(), strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("%w: %v (stderr: %s)", ErrKcat, err, strings.TrimSpace(stderr.String()))
	}
	var out []Message
	for line := range bytes.SplitSeq(stdout.Bytes(), []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m, err := ParseLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
