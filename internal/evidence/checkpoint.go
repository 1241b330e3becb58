package evidence

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/internal/report"
)

// Checkpoint ConfigMaps live in the operator's namespace, one per slice.
const (
	// LabelCheckpoint marks them, for the list at start.
	LabelCheckpoint = "medslice.io/evidence-checkpoint"
	// LabelSliceNamespace names the slice's namespace (the name may be too
	// long for a label; it is in the checkpoint).
	LabelSliceNamespace = "medslice.io/slice-namespace"

	keyPayload   = "checkpoint.json.gz"
	keySignature = "signature"
	keyKeyID     = "keyID"

	checkpointVersion = 1
	// signingContext separates a checkpoint's signature from a report's:
	// the same key signs both, and neither can pass for the other.
	signingContext = "medslice evidence checkpoint v1\n"
	// maxPayload keeps a checkpoint well within a ConfigMap (1 MiB).
	maxPayload = 900 << 10
)

// sliceRef is the slice a ledger is about, as last seen.
type sliceRef struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid"`
	// Spec is the MedicalSlice's spec as JSON, so that a report can be
	// sealed after the slice is gone.
	Spec json.RawMessage `json:"spec"`
}

func (r sliceRef) key() types.NamespacedName {
	return types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
}

// checkpoint is what is stored of a slice's ledger.
type checkpoint struct {
	Version int      `json:"version"`
	Slice   sliceRef `json:"slice"`
	// Written is when the operator wrote it; Interval is the checkpoint
	// interval then in force, the most evidence a crash loses after it.
	Written  time.Time     `json:"written"`
	Interval time.Duration `json:"interval"`
	// StoppedAt is set by an operator that shut down cleanly.
	StoppedAt time.Time `json:"stoppedAt,omitzero"`
	Ledger    *ledger   `json:"ledger"`
}

// checkpointName is the ConfigMap of a slice's checkpoint: its namespace
// and name, which cannot collide (a namespace has no dot), or a digest of
// them when too long for a name.
func checkpointName(slice types.NamespacedName) string {
	name := "evidence." + slice.Namespace + "." + slice.Name
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(slice.String()))
	return name[:253-17] + "-" + hex.EncodeToString(sum[:8])
}

// encode compresses and signs a checkpoint into the ConfigMap's data.
func encode(cp *checkpoint, cmName string, signer report.Signer) (map[string][]byte, error) {
	raw, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("encoding the checkpoint: %w", err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > maxPayload {
		return nil, fmt.Errorf("checkpoint of %d bytes compressed exceeds %d", buf.Len(), maxPayload)
	}
	sig, err := signer.Sign(signedCheckpoint(cmName, buf.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("signing the checkpoint: %w", err)
	}
	return map[string][]byte{
		keyPayload:   buf.Bytes(),
		keySignature: []byte(base64.StdEncoding.EncodeToString(sig)),
		keyKeyID:     []byte(signer.KeyID()),
	}, nil
}

// signedCheckpoint is what a checkpoint's signature covers: the context,
// the ConfigMap's name (so that a checkpoint cannot be moved to another
// slice's) and the payload.
func signedCheckpoint(cmName string, payload []byte) []byte {
	msg := make([]byte, 0, len(signingContext)+len(cmName)+1+len(payload))
	msg = append(msg, signingContext...)
	msg = append(msg, cmName...)
	msg = append(msg, '\n')
	return append(msg, payload...)
}

// errUntrusted marks a checkpoint that fails verification.
var errUntrusted = errors.New("checkpoint failed verification")

// decode verifies a checkpoint ConfigMap with keys and reads it. A
// checkpoint that does not verify, or says it is another slice's, is
// errUntrusted: its content is not used.
func decode(cm *corev1.ConfigMap, keys report.KeyRing) (*checkpoint, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errUntrusted, fmt.Sprintf(format, args...))
	}
	payload := cm.BinaryData[keyPayload]
	id := string(cm.Data[keyKeyID])
	if id == "" {
		id = string(cm.BinaryData[keyKeyID])
	}
	sigText := cm.Data[keySignature]
	if sigText == "" {
		sigText = string(cm.BinaryData[keySignature])
	}
	pub, ok := keys[id]
	if !ok {
		return nil, bad("signed by unknown key %q", id)
	}
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, bad("no valid signature")
	}
	if !ed25519.Verify(pub, signedCheckpoint(cm.Name, payload), sig) {
		return nil, bad("the signature does not match its content")
	}
	zr, err := gzip.NewReader(bytes.NewReader(payload))
	if err != nil {
		return nil, bad("payload: %v", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return nil, bad("payload: %v", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		return nil, bad("payload: %v", err)
	}
	if cp.Version != checkpointVersion || cp.Ledger == nil {
		return nil, bad("version %d, want %d", cp.Version, checkpointVersion)
	}
	if checkpointName(cp.Slice.key()) != cm.Name {
		return nil, bad("it is slice %s's, stored as %s", cp.Slice.key(), cm.Name)
	}
	return &cp, nil
}

// store keeps checkpoints as ConfigMaps in one namespace. Reads go to the
// API server directly (Reader), never through a cache: the operator must
// not watch every ConfigMap of the cluster.
type store struct {
	reader    client.Reader
	writer    client.Client
	namespace string
}

// list returns every checkpoint ConfigMap.
func (s *store) list(ctx context.Context) ([]corev1.ConfigMap, error) {
	var list corev1.ConfigMapList
	if err := s.reader.List(ctx, &list, client.InNamespace(s.namespace), client.HasLabels{LabelCheckpoint}); err != nil {
		return nil, fmt.Errorf("listing evidence checkpoints in %s: %w", s.namespace, err)
	}
	return list.Items, nil
}

// save writes a checkpoint, replacing its data, and returns the
// ConfigMap's resourceVersion: given it back, the next save is one update.
func (s *store) save(ctx context.Context, slice types.NamespacedName, data map[string][]byte, rv string) (string, error) {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.namespace, Name: checkpointName(slice),
			Labels: map[string]string{
				LabelCheckpoint: "true", LabelSliceNamespace: slice.Namespace, "app.kubernetes.io/part-of": "medslice",
			},
		},
		Data:       map[string]string{keySignature: string(data[keySignature]), keyKeyID: string(data[keyKeyID])},
		BinaryData: map[string][]byte{keyPayload: data[keyPayload]},
	}
	if rv != "" {
		cm.ResourceVersion = rv
		err := s.writer.Update(ctx, cm)
		if err == nil {
			return cm.ResourceVersion, nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return "", err
		}
		cm.ResourceVersion = ""
	}
	err := s.writer.Create(ctx, cm)
	if err == nil {
		return cm.ResourceVersion, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	var cur corev1.ConfigMap
	if err := s.reader.Get(ctx, client.ObjectKeyFromObject(cm), &cur); err != nil {
		return "", err
	}
	cm.ResourceVersion = cur.ResourceVersion
	if err := s.writer.Update(ctx, cm); err != nil {
		return "", err
	}
	return cm.ResourceVersion, nil
}

// remove deletes a slice's checkpoint; one already gone is fine.
func (s *store) remove(ctx context.Context, slice types.NamespacedName) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: checkpointName(slice)}}
	return client.IgnoreNotFound(s.writer.Delete(ctx, cm))
}
