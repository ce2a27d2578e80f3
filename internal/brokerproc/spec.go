package brokerproc

import (
	"encoding/json"
	"fmt"
)

// EnvSpec is the environment variable through which Start hands the Spec to
// the child; its presence is what makes a process a child.
const EnvSpec = "KPROD_BROKERPROC_SPEC"

// Spec describes the cluster the child runs.
type Spec struct {
	// Brokers is the number of brokers (default 1); with Ports it must
	// match len(Ports) or be zero.
	Brokers int `json:"brokers,omitempty"`
	// Ports to listen on, one per broker, all on 127.0.0.1; empty picks free
	// ports. To restart a cluster where it was, pass the old Proc's Ports.
	Ports []int `json:"ports,omitempty"`
	// DataDir is where the cluster keeps its state; a restart with the same
	// directory reloads it. Empty keeps everything in memory.
	DataDir string `json:"data_dir,omitempty"`
	// Topics are created on first start (not on a restart from DataDir)
	// with Partitions partitions each (default 1).
	Topics     []string `json:"topics,omitempty"`
	Partitions int32    `json:"partitions,omitempty"`
	// AllowAutoCreate lets metadata requests create unknown topics.
	AllowAutoCreate bool `json:"allow_auto_create,omitempty"`
	// Blackhole acknowledges produce requests without storing the records
	// (offsets and sequences still advance), which keeps broker storage out
	// of producer benchmarks; nothing can be consumed.
	Blackhole bool `json:"blackhole,omitempty"`
}

// check validates s and fills in defaults.
func (s *Spec) check() error {
	if s.Brokers < 0 || s.Partitions < 0 {
		return fmt.Errorf("%w: negative brokers (%d) or partitions (%d)", ErrSpec, s.Brokers, s.Partitions)
	}
	if len(s.Ports) > 0 {
		if s.Brokers != 0 && s.Brokers != len(s.Ports) {
			return fmt.Errorf("%w: %d brokers but %d ports", ErrSpec, s.Brokers, len(s.Ports))
		}
		s.Brokers = len(s.Ports)
	}
	for _, p := range s.Ports {
		if p < 0 || p > 65535 {
			return fmt.Errorf("%w: port %d out of range", ErrSpec, p)
		}
	}
	if s.Brokers == 0 {
		s.Brokers = 1
	}
	if s.Partitions == 0 {
		s.Partitions = 1
	}
	return nil
}

func (s Spec) encode() (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrSpec, err)
	}
	return string(b), nil
}

func decodeSpec(v string) (Spec, error) {
	var s Spec
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return Spec{}, fmt.Errorf("%w: %s=%q: %v", ErrSpec, EnvSpec, v, err)
	}
	if err := s.check(); err != nil {
		return Spec{}, err
	}
	return s, nil
}
