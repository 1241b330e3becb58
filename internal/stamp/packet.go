// Package stamp implements STAMP, the Simple Two-way Active Measurement
// Protocol (RFC 8762), in unauthenticated mode: the wire formats, a stateless
// Session-Reflector and a Session-Sender that turns replies into per-packet
// samples (round trip minus reflector residence, one-way delays when both
// clocks are synchronised, loss, duplicates, reordering).
//
// Encoding and decoding never allocate, so a prober running a thousand
// sessions at ten packets a second produces no garbage per packet.
package stamp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

const (
	// SenderPacketLen is the size of the unauthenticated Session-Sender test
	// packet (RFC 8762 §4.2.1, Figure 2).
	SenderPacketLen = 44
	// ReflectorPacketLen is the size of the unauthenticated Session-Reflector
	// test packet (RFC 8762 §4.3.1, Figure 4). It equals SenderPacketLen on
	// purpose: STAMP test packets are symmetrical in size.
	ReflectorPacketLen = 44

	// DefaultPort is the UDP port assigned to STAMP (RFC 8762 §4.1).
	DefaultPort = 862
)

// ErrShortPacket is returned when a datagram is shorter than the packet it
// should hold. Longer datagrams are accepted: the octets beyond the base
// packet are padding for symmetric size or RFC 8972 extensions.
var ErrShortPacket = errors.New("stamp: packet too short")

// NTPTime is a timestamp in the NTP 64-bit format (RFC 5905 §6): whole
// seconds since 1900-01-01 00:00:00 UTC in the upper 32 bits and the
// fraction of a second, in units of 2^-32 s, in the lower 32 bits. STAMP
// nodes MUST support this format (RFC 8762 §4.2.1).
//
// The seconds field wraps every 2^32 s (136 years); see Time for how an era
// is chosen when converting back.
type NTPTime uint64

// ntpUnixOffset is the number of seconds from the NTP epoch (1900) to the
// Unix epoch (1970): 70 years including 17 leap days.
const ntpUnixOffset = 2_208_988_800

// NewNTPTime converts t to NTP format, rounding to the nearest 2^-32 s
// (about 0.23 ns). Times outside the current NTP era wrap modulo 2^32 s, which
// is what the wire format does (RFC 5905 §6).
func NewNTPTime(t time.Time) NTPTime {
	secs := uint64(t.Unix() + ntpUnixOffset) // modulo 2^64; only the low 32 bits are kept
	nsec := uint64(t.Nanosecond())
	// nsec < 1e9 < 2^30, so the shift cannot overflow, and the rounded
	// result stays below 2^32.
	frac := (nsec<<32 + 500_000_000) / 1_000_000_000
	return NTPTime(secs<<32 | frac)
}

// Seconds returns the whole seconds field.
func (n NTPTime) Seconds() uint32 { return uint32(n >> 32) }

// Fraction returns the fraction field, in units of 2^-32 s.
func (n NTPTime) Fraction() uint32 { return uint32(n) }

// Time converts n back to a time.Time, to the nearest nanosecond.
//
// The 32-bit seconds field is ambiguous across eras; as in RFC 4330 §3, a
// value with the most significant bit set is taken to lie in 1968-2036 (era
// 0) and one with it clear in 2036-2104 (era 1, starting 2036-02-07
// 06:28:16 UTC). Differences between timestamps should use Sub, which does
// not depend on the era at all.
func (n NTPTime) Time() time.Time {
	secs := int64(n.Seconds())
	if secs&(1<<31) == 0 {
		secs += 1 << 32 // era 1
	}
	nsec := (uint64(n.Fraction())*1_000_000_000 + 1<<31) >> 32
	// nsec may round up to exactly 1e9; time.Unix normalises it.
	return time.Unix(secs-ntpUnixOffset, int64(nsec)).UTC()
}

// Sub returns n - m. The subtraction is done in the 64-bit fixed-point
// format and read as signed, so it is correct across an era boundary as long
// as the two timestamps are less than 68 years apart.
func (n NTPTime) Sub(m NTPTime) time.Duration {
	d := int64(n - m) // two's complement wrap gives the signed difference
	secs := d >> 32   // arithmetic shift: floor division by 2^32
	frac := uint64(d) & math.MaxUint32
	// |secs| <= 2^31, so secs*1e9 fits in an int64.
	return time.Duration(secs*1_000_000_000 + int64((frac*1_000_000_000+1<<31)>>32))
}

// ErrorEstimate is the 16-bit Error Estimate field of RFC 4656 §4.1.2, as
// used by STAMP (RFC 8762 §4.2.1, Figure 3):
//
//	 0                   1
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|S|Z|   Scale   |   Multiplier  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The estimate is Multiplier * 2^Scale * 2^-32 seconds.
type ErrorEstimate struct {
	// Synchronized is the S bit: the clock that produced the timestamp is
	// synchronised to UTC by an external source. One-way delays are only
	// meaningful when both ends set it.
	Synchronized bool
	// PTP is the Z bit, which RFC 8186 §2.3 (adopted by RFC 8762 §4.2.1)
	// took from RFC 4656's MBZ: false means the timestamps of the packet are
	// in NTP 64-bit format, true means PTPv2 truncated format (32-bit
	// seconds and 32-bit nanoseconds since the PTP epoch). This package
	// always sends NTP.
	PTP bool
	// Scale is the 6-bit exponent.
	Scale uint8
	// Multiplier is the mantissa. RFC 4656 §4.1.2 forbids zero; a peer
	// that sends it gives no usable estimate.
	Multiplier uint8
}

const (
	errorEstimateS        = 1 << 15
	errorEstimateZ        = 1 << 14
	errorEstimateScaleMax = 1<<6 - 1
)

// NewErrorEstimate returns the smallest representable estimate that is not
// below d, so that a peer never believes a timestamp is better than it is.
// A non-positive d gives the smallest valid estimate (2^-32 s). Every
// time.Duration fits (the format reaches 255 * 2^31 s).
func NewErrorEstimate(d time.Duration, synchronized bool) ErrorEstimate {
	e := ErrorEstimate{Synchronized: synchronized, Multiplier: 1}
	if d <= 0 {
		return e
	}
	units := d.Seconds() * (1 << 32) // in 2^-32 s
	scale, mult := 0, math.Ceil(units)
	for mult > math.MaxUint8 && scale < errorEstimateScaleMax {
		scale++
		mult = math.Ceil(units / math.Ldexp(1, scale))
	}
	e.Scale, e.Multiplier = uint8(scale), uint8(min(mult, math.MaxUint8))
	return e
}

// ParseErrorEstimate decodes the 16-bit wire value.
func ParseErrorEstimate(v uint16) ErrorEstimate {
	return ErrorEstimate{
		Synchronized: v&errorEstimateS != 0,
		PTP:          v&errorEstimateZ != 0,
		Scale:        uint8(v>>8) & errorEstimateScaleMax,
		Multiplier:   uint8(v),
	}
}

// Uint16 encodes e. A Scale above 63 is truncated to its 6 bits.
func (e ErrorEstimate) Uint16() uint16 {
	v := uint16(e.Scale&errorEstimateScaleMax)<<8 | uint16(e.Multiplier)
	if e.Synchronized {
		v |= errorEstimateS
	}
	if e.PTP {
		v |= errorEstimateZ
	}
	return v
}

// Valid reports whether the estimate may be relied on (RFC 4656 §4.1.2: a
// zero Multiplier is not a valid estimate).
func (e ErrorEstimate) Valid() bool { return e.Multiplier != 0 }

// Duration returns the estimate, rounded up to the next nanosecond and
// saturated at the largest time.Duration.
func (e ErrorEstimate) Duration() time.Duration {
	secs := math.Ldexp(float64(e.Multiplier), int(e.Scale&errorEstimateScaleMax)-32)
	ns := math.Ceil(secs * 1e9)
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

func (e ErrorEstimate) String() string {
	z := "NTP"
	if e.PTP {
		z = "PTP"
	}
	return fmt.Sprintf("{S=%t Z=%s scale=%d multiplier=%d (%v)}", e.Synchronized, z, e.Scale, e.Multiplier, e.Duration())
}

// SenderPacket is the unauthenticated Session-Sender test packet (RFC 8762
// §4.2.1, Figure 2):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |  0
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Timestamp                            |  4
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Error Estimate        |                               | 12
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                         MBZ (30 octets)                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ 44
//
// The MBZ octets are not kept: they MUST be zeroed on transmission and
// ignored on receipt (RFC 8762 §4.2.1).
type SenderPacket struct {
	// Seq starts at zero for a session and grows by one per packet.
	Seq uint32
	// Timestamp is when the Session-Sender sent the packet (T1), in the
	// format the Z bit of ErrorEstimate names.
	Timestamp NTPTime
	// ErrorEstimate qualifies Timestamp.
	ErrorEstimate ErrorEstimate
}

// AppendBinary appends the 44-octet wire form of p to b
// (encoding.BinaryAppender). It does not allocate when b has room.
func (p *SenderPacket) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint32(b, p.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(p.Timestamp))
	b = binary.BigEndian.AppendUint16(b, p.ErrorEstimate.Uint16())
	return append(b, zeros[:30]...), nil
}

// MarshalBinary returns the 44-octet wire form of p.
func (p *SenderPacket) MarshalBinary() ([]byte, error) {
	return p.AppendBinary(make([]byte, 0, SenderPacketLen))
}

// UnmarshalBinary decodes the first 44 octets of b. A longer b is accepted
// (symmetric-size padding or RFC 8972 TLVs follow the base packet); a
// shorter one returns an error wrapping ErrShortPacket. MBZ octets are
// ignored, as RFC 8762 §4.2.1 requires.
func (p *SenderPacket) UnmarshalBinary(b []byte) error {
	if len(b) < SenderPacketLen {
		return shortPacketError("Session-Sender", len(b), SenderPacketLen)
	}
	p.Seq = binary.BigEndian.Uint32(b[0:4])
	p.Timestamp = NTPTime(binary.BigEndian.Uint64(b[4:12]))
	p.ErrorEstimate = ParseErrorEstimate(binary.BigEndian.Uint16(b[12:14]))
	return nil
}

// ReflectorPacket is the unauthenticated Session-Reflector test packet (RFC
// 8762 §4.3.1, Figure 4):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |  0
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Timestamp                            |  4
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Error Estimate        |           MBZ                 | 12
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Receive Timestamp                    | 16
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Session-Sender Sequence Number                | 24
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  Session-Sender Timestamp                     | 28
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Session-Sender Error Estimate |           MBZ                 | 36
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Ses-Sender TTL |                   MBZ                         | 40
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ 44
//
// MBZ octets are zeroed on transmission and ignored on receipt.
type ReflectorPacket struct {
	// Seq is the reflector's sequence number. A stateless reflector copies
	// the Session-Sender's (RFC 8762 §4.3); a stateful one counts its own.
	Seq uint32
	// Timestamp is when the reflector sent this packet (T3).
	Timestamp NTPTime
	// ErrorEstimate qualifies Timestamp and ReceiveTimestamp.
	ErrorEstimate ErrorEstimate
	// ReceiveTimestamp is when the reflector received the sender's packet
	// (T2). Timestamp - ReceiveTimestamp is the residence time.
	ReceiveTimestamp NTPTime
	// SenderSeq, SenderTimestamp and SenderErrorEstimate are copied from
	// the Session-Sender packet that caused this one.
	SenderSeq           uint32
	SenderTimestamp     NTPTime
	SenderErrorEstimate ErrorEstimate
	// SenderTTL is the IPv4 TTL (or IPv6 Hop Limit) of the received
	// Session-Sender packet.
	SenderTTL uint8
}

// AppendBinary appends the 44-octet wire form of p to b
// (encoding.BinaryAppender). It does not allocate when b has room.
func (p *ReflectorPacket) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint32(b, p.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(p.Timestamp))
	b = binary.BigEndian.AppendUint16(b, p.ErrorEstimate.Uint16())
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(p.ReceiveTimestamp))
	b = binary.BigEndian.AppendUint32(b, p.SenderSeq)
	b = binary.BigEndian.AppendUint64(b, uint64(p.SenderTimestamp))
	b = binary.BigEndian.AppendUint16(b, p.SenderErrorEstimate.Uint16())
	return append(b, 0, 0, p.SenderTTL, 0, 0, 0), nil
}

// MarshalBinary returns the 44-octet wire form of p.
func (p *ReflectorPacket) MarshalBinary() ([]byte, error) {
	return p.AppendBinary(make([]byte, 0, ReflectorPacketLen))
}

// UnmarshalBinary decodes the first 44 octets of b; see
// SenderPacket.UnmarshalBinary for the length and MBZ rules.
func (p *ReflectorPacket) UnmarshalBinary(b []byte) error {
	if len(b) < ReflectorPacketLen {
		return shortPacketError("Session-Reflector", len(b), ReflectorPacketLen)
	}
	p.Seq = binary.BigEndian.Uint32(b[0:4])
	p.Timestamp = NTPTime(binary.BigEndian.Uint64(b[4:12]))
	p.ErrorEstimate = ParseErrorEstimate(binary.BigEndian.Uint16(b[12:14]))
	p.ReceiveTimestamp = NTPTime(binary.BigEndian.Uint64(b[16:24]))
	p.SenderSeq = binary.BigEndian.Uint32(b[24:28])
	p.SenderTimestamp = NTPTime(binary.BigEndian.Uint64(b[28:36]))
	p.SenderErrorEstimate = ParseErrorEstimate(binary.BigEndian.Uint16(b[36:38]))
	p.SenderTTL = b[40]
	return nil
}

// Residence returns Timestamp - ReceiveTimestamp, the time the packet spent
// in the reflector, in whichever timestamp format the Z bit names.
func (p *ReflectorPacket) Residence() time.Duration {
	if p.ErrorEstimate.PTP {
		return ptpSub(p.Timestamp, p.ReceiveTimestamp)
	}
	return p.Timestamp.Sub(p.ReceiveTimestamp)
}

// ptpSub subtracts two PTPv2 truncated timestamps (RFC 8186 §2.3: 32-bit
// seconds, 32-bit nanoseconds). The seconds are read as a signed difference
// so that a wrap between the two does not matter.
func ptpSub(a, b NTPTime) time.Duration {
	secs := int64(int32(a.Seconds() - b.Seconds()))
	return time.Duration(secs*1_000_000_000 + int64(a.Fraction()) - int64(b.Fraction()))
}

var zeros [SenderPacketLen]byte

func shortPacketError(kind string, got, want int) error {
	return fmt.Errorf("%w: %s packet has %d octets, want at least %d", ErrShortPacket, kind, got, want)
}
