package stamp

import (
	"bytes"
	"errors"
	"testing"
)

// The seed corpus lives in testdata/fuzz/<FuzzName>/: the hand-written
// vectors, a short packet, a long one with trailing octets and one with every
// MBZ octet set.

func FuzzParseSenderPacket(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		var p SenderPacket
		err := p.UnmarshalBinary(b)
		if len(b) < SenderPacketLen {
			if !errors.Is(err, ErrShortPacket) {
				t.Fatalf("%d octets: err = %v, want ErrShortPacket", len(b), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%d octets: %v", len(b), err)
		}
		out, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		// Marshalling keeps every field octet and zeroes MBZ (RFC 8762 §4.2.1).
		want := bytes.Clone(b[:SenderPacketLen])
		clear(want[14:])
		if !bytes.Equal(out, want) {
			t.Fatalf("re-marshalled:\n got %x\nwant %x", out, want)
		}
		var q SenderPacket
		if err := q.UnmarshalBinary(out); err != nil || q != p {
			t.Fatalf("second parse = %+v, %v; want %+v", q, err, p)
		}
	})
}

func FuzzParseReflectorPacket(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		var p ReflectorPacket
		err := p.UnmarshalBinary(b)
		if len(b) < ReflectorPacketLen {
			if !errors.Is(err, ErrShortPacket) {
				t.Fatalf("%d octets: err = %v, want ErrShortPacket", len(b), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%d octets: %v", len(b), err)
		}
		out, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Clone(b[:ReflectorPacketLen])
		for _, i := range reflectorMBZOffsets {
			want[i] = 0
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("re-marshalled:\n got %x\nwant %x", out, want)
		}
		var q ReflectorPacket
		if err := q.UnmarshalBinary(out); err != nil || q != p {
			t.Fatalf("second parse = %+v, %v; want %+v", q, err, p)
		}
		_ = p.Residence() // must not panic for any Z bit and timestamps
	})
}
