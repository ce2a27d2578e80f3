package wire

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxSessionLifetime clamps a broker's SASL session lifetime, so a silly
// value cannot overflow time arithmetic.
const maxSessionLifetime = 365 * 24 * time.Hour

// authenticate runs SASL on a fresh connection: SaslHandshake names the
// mechanism, then the mechanism's session drives the exchange. From
// SaslHandshake v1 on, every message travels in a SaslAuthenticate
// request; with v0 (brokers before 1.0) messages are raw size-prefixed
// tokens. Every failure wraps ErrSASL: brokers commonly report a wrong
// password by closing the connection.
func (c *Conn) authenticate(ctx context.Context) error {
	err := c.saslExchange(ctx)
	if err != nil {
		return fmt.Errorf("%w: %s: mechanism %s: %w", ErrSASL, c.addr, c.set.sasl.Name(), err)
	}
	return nil
}

func (c *Conn) saslExchange(ctx context.Context) error {
	mech := c.set.sasl
	hv, ok := c.versions.lookup(kmsg.SASLHandshake.Int16())
	if !ok {
		return fmt.Errorf("%w: broker does not offer SaslHandshake", ErrUnsupportedVersion)
	}
	hreq := kmsg.NewPtrSASLHandshakeRequest()
	hreq.Version = hv
	hreq.Mechanism = mech.Name()
	raw, err := c.request(hreq)
	if err != nil {
		return fmt.Errorf("SaslHandshake: %w", err)
	}
	hresp := raw.(*kmsg.SASLHandshakeResponse)
	if err := kerr.ErrorForCode(hresp.ErrorCode); err != nil {
		return fmt.Errorf("SaslHandshake (broker enables %v): %w", hresp.SupportedMechanisms, err)
	}

	framed := hv >= 1
	av := int16(-1)
	if framed {
		if av, ok = c.versions.lookup(kmsg.SASLAuthenticate.Int16()); !ok {
			return fmt.Errorf("%w: broker does not offer SaslAuthenticate", ErrUnsupportedVersion)
		}
	}

	session, msg, err := mech.Authenticate(ctx, c.addr)
	if err != nil {
		return err
	}
	if len(msg) == 0 {
		return fmt.Errorf("mechanism sent no first message; Kafka needs client-first mechanisms")
	}
	var lifetime time.Duration
	var sent time.Time
	for done := false; ; {
		var reply []byte
		sent = time.Now()
		if framed {
			areq := kmsg.NewPtrSASLAuthenticateRequest()
			areq.Version = av
			areq.SASLAuthBytes = msg
			raw, err := c.request(areq)
			if err != nil {
				return fmt.Errorf("SaslAuthenticate: %w", err)
			}
			aresp := raw.(*kmsg.SASLAuthenticateResponse)
			if err := kerr.ErrorForCode(aresp.ErrorCode); err != nil {
				if aresp.ErrorMessage != nil {
					return fmt.Errorf("SaslAuthenticate: %w: %s", err, *aresp.ErrorMessage)
				}
				return fmt.Errorf("SaslAuthenticate: %w", err)
			}
			reply = aresp.SASLAuthBytes
			lifetime = time.Duration(aresp.SessionLifetimeMillis) * time.Millisecond
		} else {
			// Raw tokens: the last client message gets no reply.
			if reply, err = c.rawToken(msg, !done); err != nil {
				return err
			}
		}
		if done {
			break
		}
		if done, msg, err = session.Challenge(reply); err != nil {
			return err
		}
		if done && len(msg) == 0 {
			break
		}
	}
	if lifetime > 0 {
		c.setSessionLifetime(sent, min(lifetime, maxSessionLifetime))
	}
	return nil
}

// setSessionLifetime records when the broker ends the SASL session
// (KIP-368), measured from just before the final authenticate request was
// written. The pool starts a replacement at 85-95% of the lifetime and
// stops handing the conn out at 97%.
func (c *Conn) setSessionLifetime(start time.Time, lifetime time.Duration) {
	c.sessionExpiry = start.Add(lifetime)
	c.reauthAt = start.Add(time.Duration(float64(lifetime) * (0.85 + 0.10*rand.Float64())))
	c.retireAt = start.Add(time.Duration(float64(lifetime) * 0.97))
}

// rawToken writes a size-prefixed SASL token and, when wantReply, reads
// the broker's size-prefixed reply.
func (c *Conn) rawToken(msg []byte, wantReply bool) ([]byte, error) {
	buf := make([]byte, 4, 4+len(msg))
	binary.BigEndian.PutUint32(buf, uint32(len(msg)))
	if _, err := c.nc.Write(append(buf, msg...)); err != nil {
		return nil, err
	}
	if !wantReply {
		return nil, nil
	}
	var sizeBuf [4]byte
	if _, err := io.ReadFull(c.br, sizeBuf[:]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
	if size < 0 || size > c.set.maxResponse {
		return nil, fmt.Errorf("%w: SASL token size %d", ErrMalformedResponse, size)
	}
	reply := make([]byte, size)
	if _, err := io.ReadFull(c.br, reply); err != nil {
		return nil, err
	}
	return reply, nil
}
