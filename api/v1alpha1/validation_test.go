package v1alpha1_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/testenv"
)

// These tests run against the real API server (internal/testenv): the
// validation they protect is the CRD schema and its CEL rules, which only
// the API server evaluates.

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, func(e *testenv.Env) { env = e })
}

const (
	// requestTimeout bounds one test's calls to the API server.
	requestTimeout = 30 * time.Second
	// testNamespace holds the MedicalSlices the validation tests create.
	testNamespace = "validation"
)

// strict rejects unknown fields instead of silently pruning them, so that a
// typo in a manifest fails the test rather than vanishing.
var strict = client.FieldValidation(metav1.FieldValidationStrict)

// ruleEvaluationErrors are fragments of the API server's answer when a CEL
// rule fails to evaluate instead of returning false. Such an answer shows
// the rule, not what to fix, so no rejection may contain one.
var ruleEvaluationErrors = []string{
	"no such key",
	"no such overload",
	"type conversion error",
	"evaluating rule",
	"compilation failed",
	"cost",
}

var nsOnce sync.Once

// ensureNamespace creates the namespace the slices of these tests live in.
func ensureNamespace(t *testing.T) {
	t.Helper()
	var err error
	nsOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		err = env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}})
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
	})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", testNamespace, err)
	}
}

func ptr[T any](v T) *T { return &v }

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// validProfile is a complete URLLC profile the API server accepts; invalid
// cases change one thing in it.
func validProfile() *v1alpha1.SliceProfile {
	return &v1alpha1.SliceProfile{
		Spec: v1alpha1.SliceProfileSpec{
			ServiceType: v1alpha1.ServiceTypeURLLC,
			Description: "robot control loop",
			QoS: v1alpha1.QoS{
				FiveQI:                  ptr[int32](82),
				ARP:                     &v1alpha1.ARP{PriorityLevel: 1, PreemptCap: v1alpha1.PreemptionMayPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable},
				GBRUplinkKbps:           ptr[int64](20000),
				GBRDownlinkKbps:         ptr[int64](20000),
				MBRUplinkKbps:           ptr[int64](40000),
				MBRDownlinkKbps:         ptr[int64](40000),
				PacketDelayBudgetMs:     ptr[int32](10),
				PacketErrorRate:         "1E-4",
				MaxDataBurstVolumeBytes: ptr[int32](255),
				MediaType:               "APPLICATION",
			},
			AlternativeQoS: &v1alpha1.QoS{
				FiveQI: ptr[int32](85),
				ARP:    &v1alpha1.ARP{PriorityLevel: 1, PreemptCap: v1alpha1.PreemptionMayPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable},
			},
			SNSSAI: v1alpha1.SNSSAI{SST: 2, SD: "000001"},
			DNN:    "hospital",
			SLA: v1alpha1.SLATargets{
				RTTP99:              dur(20 * time.Millisecond),
				JitterP99:           dur(5 * time.Millisecond),
				LossRatio:           "0.0001",
				AvailabilityPercent: "99.99",
				Window:              dur(time.Second),
				VerificationPeriod:  dur(30 * time.Second),
			},
			Probe:       v1alpha1.ProbeSettings{Interval: dur(100 * time.Millisecond), Port: ptr[int32](862)},
			MaxDuration: dur(24 * time.Hour),
		},
	}
}

// validCore is a NEF core the API server accepts.
func validCore() *v1alpha1.CoreNetwork {
	return &v1alpha1.CoreNetwork{
		Spec: v1alpha1.CoreNetworkSpec{
			API:                 v1alpha1.CoreAPINEF,
			Endpoint:            "https://nef.carrier.example:8443",
			AFID:                "hospital-af",
			NotificationBaseURL: "http://medslice-notify.medslice-system:8082",
			Capacity:            v1alpha1.CoreCapacity{GBRUplinkKbps: 1000000, GBRDownlinkKbps: 1000000, MaxSessions: 100},
			Auth:                v1alpha1.CoreAuth{OAuth2: &v1alpha1.SecretKeyRef{Name: "nef-oauth2"}},
		},
	}
}

// validSlice is a scheduled MedicalSlice the API server accepts.
func validSlice() *v1alpha1.MedicalSlice {
	start := time.Date(2030, 3, 1, 8, 0, 0, 0, time.UTC)
	return &v1alpha1.MedicalSlice{
		Spec: v1alpha1.MedicalSliceSpec{
			Profile: "surgery-urllc",
			CoreRef: "emulator-pcf",
			Purpose: "robotic-assisted laparoscopy, OR-3",
			Devices: []v1alpha1.Device{
				{Name: "patient-cart", IPv4: "10.45.0.11", SUPI: "imsi-208930000000011"},
				{Name: "vision-cart", IPv4: "10.45.0.12", GPSI: "msisdn-4930123456"},
			},
			Application: v1alpha1.Application{
				Servers:  []string{"10.100.0.10"},
				Ports:    []string{"40000-40009"},
				Protocol: v1alpha1.ProtocolUDP,
			},
			Schedule: &v1alpha1.Schedule{
				Start:    metav1.NewTime(start),
				End:      metav1.NewTime(start.Add(4 * time.Hour)),
				LeadTime: dur(15 * time.Minute),
			},
			Probe: &v1alpha1.ProbeTarget{Target: "10.45.0.11:862"},
		},
	}
}

func profileWith(change func(*v1alpha1.SliceProfile)) *v1alpha1.SliceProfile {
	p := validProfile()
	change(p)
	return p
}

func coreWith(change func(*v1alpha1.CoreNetwork)) *v1alpha1.CoreNetwork {
	c := validCore()
	change(c)
	return c
}

func sliceWith(change func(*v1alpha1.MedicalSlice)) *v1alpha1.MedicalSlice {
	s := validSlice()
	change(s)
	return s
}

func devices(n int) []v1alpha1.Device {
	out := make([]v1alpha1.Device, n)
	for i := range out {
		out[i] = v1alpha1.Device{Name: "device-" + string(rune('a'+i/26)) + string(rune('a'+i%26)), IPv4: "10.45.1." + itoa(i+1)}
	}
	return out
}

func servers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "10.100.0." + itoa(i+1)
	}
	return out
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// objectName turns a case name into a unique, valid object name.
func objectName(caseName string) string {
	n := strings.Trim(nonName.ReplaceAllString(strings.ToLower(caseName), "-"), "-")
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	return n
}

// toUnstructured names obj, puts it in the test namespace when it is
// namespaced, and converts it, so that raw JSON values typed Go cannot hold
// (a malformed duration) can be set on it.
func toUnstructured(t *testing.T, obj client.Object, name string) *unstructured.Unstructured {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, env.Scheme)
	if err != nil {
		t.Fatalf("kind of %T: %v", obj, err)
	}
	obj.SetName(name)
	if _, ok := obj.(*v1alpha1.MedicalSlice); ok {
		obj.SetNamespace(testNamespace)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatalf("converting %T: %v", obj, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u
}

// assertRejected checks that err is the API server's Invalid answer carrying
// want, and free of rule evaluation errors.
func assertRejected(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a rejection saying %q", want)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v; want an Invalid rejection saying %q", err, want)
	}
	t.Logf("API server: %v", err)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("rejection does not say %q:\n%v", want, err)
	}
	for _, bad := range ruleEvaluationErrors {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("rejection contains a rule evaluation error (%q) instead of a message a person can act on:\n%v", bad, err)
		}
	}
}

// invalidCase is one object the API server must reject with wantMsg.
type invalidCase struct {
	// obj is the object to create; with update, the valid original.
	obj client.Object
	// raw sets JSON fields, by path, that typed Go cannot hold.
	raw map[string]any
	// update, when set, turns the created original into an invalid update.
	update func(client.Object)
	// wantMsg is the part of the API server's answer a person acts on.
	wantMsg string
}

func TestInvalidObjectsAreRejected(t *testing.T) {
	ensureNamespace(t)
	cases := map[string]invalidCase{
		// SliceProfile: QoS
		"profile gbr uplink above mbr": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.GBRUplinkKbps = ptr[int64](50000) }),
			wantMsg: "spec.qos: Invalid value: gbrUplinkKbps must not exceed mbrUplinkKbps",
		},
		"profile gbr downlink above mbr": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.GBRDownlinkKbps = ptr[int64](50000) }),
			wantMsg: "gbrDownlinkKbps must not exceed mbrDownlinkKbps",
		},
		"profile alternative qos gbr above mbr": {
			obj: profileWith(func(p *v1alpha1.SliceProfile) {
				p.Spec.AlternativeQoS.GBRUplinkKbps, p.Spec.AlternativeQoS.MBRUplinkKbps = ptr[int64](2), ptr[int64](1)
			}),
			wantMsg: "spec.alternativeQoS: Invalid value: gbrUplinkKbps must not exceed mbrUplinkKbps",
		},
		"profile URLLC with non-GBR 5QI 9": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.FiveQI = ptr[int32](9) }),
			wantMsg: "spec.qos.fiveQI: Invalid value: a URLLC profile needs a GBR or delay-critical GBR 5QI",
		},
		"profile URLLC without GBR": {
			obj: profileWith(func(p *v1alpha1.SliceProfile) {
				p.Spec.QoS.GBRUplinkKbps, p.Spec.QoS.GBRDownlinkKbps = nil, ptr[int64](0)
			}),
			wantMsg: "spec.qos: Invalid value: a URLLC profile needs a guaranteed bit rate",
		},
		"profile URLLC pre-emptable": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.ARP.PreemptVuln = v1alpha1.PreemptionPreemptable }),
			wantMsg: "spec.qos.arp.preemptVuln: Invalid value: a URLLC profile must not be pre-emptable: set qos.arp.preemptVuln to NOT_PREEMPTABLE",
		},
		"profile URLLC escalating to pre-emptable": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.AlternativeQoS.ARP.PreemptVuln = v1alpha1.PreemptionPreemptable }),
			wantMsg: "spec.alternativeQoS.arp.preemptVuln: Invalid value: a URLLC profile must not be pre-emptable after escalation either",
		},
		"profile URLLC escalating to non-GBR 5QI": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.AlternativeQoS.FiveQI = ptr[int32](80) }),
			wantMsg: "spec.alternativeQoS.fiveQI: Invalid value: a URLLC profile may only escalate to a GBR or delay-critical GBR 5QI",
		},
		"profile without 5QI": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.FiveQI = nil }),
			wantMsg: "a profile must set qos.fiveQI",
		},
		"profile without ARP": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.ARP = nil }),
			wantMsg: "a profile must set qos.arp",
		},
		"profile 5QI 0": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.FiveQI = ptr[int32](0) }),
			wantMsg: "spec.qos.fiveQI in body should be greater than or equal to 1",
		},
		"profile 5QI 256": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.FiveQI = ptr[int32](256) }),
			wantMsg: "spec.qos.fiveQI in body should be less than or equal to 255",
		},
		"profile ARP priority 16": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.ARP.PriorityLevel = 16 }),
			wantMsg: "spec.qos.arp.priorityLevel in body should be less than or equal to 15",
		},
		"profile ARP priority 0": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.ARP.PriorityLevel = 0 }),
			wantMsg: "spec.qos.arp.priorityLevel in body should be greater than or equal to 1",
		},
		"profile unknown pre-emption capability": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.ARP.PreemptCap = "SOMETIMES" }),
			wantMsg: `spec.qos.arp.preemptCap: Unsupported value: "SOMETIMES": supported values: "NOT_PREEMPT", "MAY_PREEMPT"`,
		},
		"profile unknown pre-emption vulnerability": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.ARP.PreemptVuln = "NEVER" }),
			wantMsg: `spec.qos.arp.preemptVuln: Unsupported value: "NEVER": supported values: "NOT_PREEMPTABLE", "PREEMPTABLE"`,
		},
		"profile unknown service type": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.ServiceType = "HRLLC" }),
			wantMsg: `spec.serviceType: Unsupported value: "HRLLC"`,
		},
		"profile unknown media type": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.MediaType = "HAPTIC" }),
			wantMsg: `spec.qos.mediaType: Unsupported value: "HAPTIC"`,
		},
		"profile SST 256": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SNSSAI.SST = 256 }),
			wantMsg: "spec.snssai.sst in body should be less than or equal to 255",
		},
		"profile SD of 5 hex digits": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SNSSAI.SD = "00001" }),
			wantMsg: "spec.snssai.sd in body should match '^[A-Fa-f0-9]{6}$'",
		},
		"profile SD not hex": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SNSSAI.SD = "00000G" }),
			wantMsg: "spec.snssai.sd in body should match '^[A-Fa-f0-9]{6}$'",
		},
		"profile packet error rate as a decimal": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.PacketErrorRate = "0.0001" }),
			wantMsg: "spec.qos.packetErrorRate in body should match '^[0-9]E-[0-9]$'",
		},
		"profile packet error rate in lower case": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.PacketErrorRate = "1e-4" }),
			wantMsg: "spec.qos.packetErrorRate in body should match '^[0-9]E-[0-9]$'",
		},
		"profile max data burst volume 4096": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.MaxDataBurstVolumeBytes = ptr[int32](4096) }),
			wantMsg: "spec.qos.maxDataBurstVolumeBytes in body should be less than or equal to 4095",
		},
		"profile packet delay budget 0": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.PacketDelayBudgetMs = ptr[int32](0) }),
			wantMsg: "spec.qos.packetDelayBudgetMs in body should be greater than or equal to 1",
		},
		"profile qos reference with a space": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.QoSReference = "gold plus" }),
			wantMsg: "spec.qos.qosReference in body should match",
		},
		"profile loss ratio above 1": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SLA.LossRatio = "2" }),
			wantMsg: "lossRatio must be a share between 0 and 1",
		},
		"profile loss ratio above 1 in E notation": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SLA.LossRatio = "9e-0" }),
			wantMsg: "lossRatio must be a share between 0 and 1",
		},
		"profile loss ratio as a percentage": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SLA.LossRatio = "0.01%" }),
			wantMsg: "lossRatio must be a share between 0 and 1",
		},
		"profile availability above 100": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SLA.AvailabilityPercent = "100.5" }),
			wantMsg: "availabilityPercent must be a percentage from 0 to 100",
		},
		"profile dnn with underscore": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.DNN = "hospital_net" }),
			wantMsg: "dnn must be a data network name",
		},
		"profile dnn empty": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.DNN = "" }),
			wantMsg: "dnn must be a data network name",
		},
		"profile rtt target with a space": {
			obj:     validProfile(),
			raw:     map[string]any{"spec.sla.rttP99": "20 ms"},
			wantMsg: "rttP99 must be a positive duration of at most 10s",
		},
		"profile rtt target 0s": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SLA.RTTP99 = dur(0) }),
			wantMsg: "rttP99 must be a positive duration of at most 10s",
		},
		"profile jitter target negative": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SLA.JitterP99 = dur(-time.Millisecond) }),
			wantMsg: "jitterP99 must be a positive duration of at most 10s",
		},
		"profile window 10ms": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SLA.Window = dur(10 * time.Millisecond) }),
			wantMsg: "window must be a duration from 100ms to 1h",
		},
		"profile verification period in days": {
			obj:     validProfile(),
			raw:     map[string]any{"spec.sla.verificationPeriod": "1d"},
			wantMsg: "verificationPeriod must be a duration from 1s to 24h",
		},
		"profile probe interval 1ms": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.Probe.Interval = dur(time.Millisecond) }),
			wantMsg: "interval must be a duration from 10ms to 1m",
		},
		"profile probe port 0": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.Probe.Port = ptr[int32](0) }),
			wantMsg: "spec.probe.port in body should be greater than or equal to 1",
		},
		"profile max duration of two years": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.MaxDuration = dur(2 * 8760 * time.Hour) }),
			wantMsg: "maxDuration must be a duration from 1m to 8760h",
		},
		"profile description too long": {
			obj:     profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.Description = strings.Repeat("a", 257) }),
			wantMsg: "spec.description: Too long: may not be more than 256 bytes",
		},
		"profile update making URLLC pre-emptable": {
			obj: validProfile(),
			update: func(o client.Object) {
				o.(*v1alpha1.SliceProfile).Spec.QoS.ARP.PreemptVuln = v1alpha1.PreemptionPreemptable
			},
			wantMsg: "a URLLC profile must not be pre-emptable",
		},

		// CoreNetwork
		"core endpoint without scheme": {
			obj:     coreWith(func(c *v1alpha1.CoreNetwork) { c.Spec.Endpoint = "nef.carrier.example:8443" }),
			wantMsg: "endpoint must be an http:// or https:// URL with a host",
		},
		"core endpoint not a URL": {
			obj:     coreWith(func(c *v1alpha1.CoreNetwork) { c.Spec.Endpoint = "not a url" }),
			wantMsg: "endpoint must be an http:// or https:// URL with a host",
		},
		"core endpoint ftp": {
			obj:     coreWith(func(c *v1alpha1.CoreNetwork) { c.Spec.Endpoint = "ftp://nef.carrier.example" }),
			wantMsg: "endpoint must be an http:// or https:// URL with a host",
		},
		"core endpoint without host": {
			obj:     coreWith(func(c *v1alpha1.CoreNetwork) { c.Spec.Endpoint = "https:///nef" }),
			wantMsg: "endpoint must be an http:// or https:// URL with a host",
		},
		"core notification URL relative": {
			obj:     coreWith(func(c *v1alpha1.CoreNetwork) { c.Spec.NotificationBaseURL = "/notify" }),
			wantMsg: "notificationBaseURL must be an http:// or https:// URL with a host",
		},
		"core NEF without afID": {
			obj:     coreWith(func(c *v1alpha1.CoreNetwork) { c.Spec.AFID = "" }),
			wantMsg: "spec.afID: Invalid value: a NEF core needs afID",
		},
		"core unknown api": {
			obj:     coreWith(func(c *v1alpha1.CoreNetwork) { c.Spec.API = "AMF" }),
			wantMsg: `spec.api: Unsupported value: "AMF": supported values: "NEF", "PCF"`,
		},
		"core afID with a slash": {
			obj:     coreWith(func(c *v1alpha1.CoreNetwork) { c.Spec.AFID = "hospital/af" }),
			wantMsg: "spec.afID in body should match",
		},
		"core negative capacity": {
			obj:     coreWith(func(c *v1alpha1.CoreNetwork) { c.Spec.Capacity.GBRUplinkKbps = -1 }),
			wantMsg: "spec.capacity.gbrUplinkKbps in body should be greater than or equal to 0",
		},
		"core secret name not a DNS name": {
			obj:     coreWith(func(c *v1alpha1.CoreNetwork) { c.Spec.Auth.TLS = &v1alpha1.SecretKeyRef{Name: "NEF_TLS"} }),
			wantMsg: "spec.auth.tls.name in body should match",
		},
		"core update dropping afID of a NEF core": {
			obj:     validCore(),
			update:  func(o client.Object) { o.(*v1alpha1.CoreNetwork).Spec.AFID = "" },
			wantMsg: "spec.afID: Invalid value: a NEF core needs afID",
		},

		// MedicalSlice
		"slice duplicate device names": {
			obj: sliceWith(func(s *v1alpha1.MedicalSlice) {
				s.Spec.Devices = append(s.Spec.Devices, v1alpha1.Device{Name: "patient-cart", IPv4: "10.45.0.13"})
			}),
			wantMsg: `spec.devices[2]: Duplicate value: {"name":"patient-cart"}`,
		},
		"slice device without an address": {
			obj: sliceWith(func(s *v1alpha1.MedicalSlice) {
				s.Spec.Devices[0] = v1alpha1.Device{Name: "patient-cart", GPSI: "msisdn-4930123456", SUPI: "imsi-208930000000011"}
			}),
			wantMsg: "spec.devices[0]: Invalid value: a device needs ipv4 or ipv6",
		},
		"slice ipv4 holding an IPv6 address": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Devices[0].IPv4 = "2001:db8::7" }),
			wantMsg: "ipv4 must be an IPv4 address",
		},
		"slice ipv4 out of range": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Devices[0].IPv4 = "10.45.0.300" }),
			wantMsg: "ipv4 must be an IPv4 address",
		},
		"slice ipv4 with leading zero": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Devices[0].IPv4 = "10.45.0.011" }),
			wantMsg: "ipv4 must be an IPv4 address",
		},
		"slice ipv6 not an address": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Devices[0].IPv6 = "2001:db8::zz" }),
			wantMsg: "ipv6 must be an IPv6 address",
		},
		"slice ipv6 holding an IPv4 address": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Devices[0].IPv6 = "10.45.0.11" }),
			wantMsg: "ipv6 must be an IPv6 address",
		},
		"slice device name in upper case": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Devices[0].Name = "Patient-Cart" }),
			wantMsg: "spec.devices[0].name in body should match",
		},
		"slice bad gpsi": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Devices[0].GPSI = "tel:+4930123456" }),
			wantMsg: "spec.devices[0].gpsi in body should match '^(msisdn-[0-9]{5,15}|extid-[^@]+@[^@]+)$'",
		},
		"slice bad supi": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Devices[0].SUPI = "imsi-20893abc" }),
			wantMsg: "spec.devices[0].supi in body should match '^imsi-[0-9]{5,15}$'",
		},
		"slice 33 devices": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Devices = devices(33) }),
			wantMsg: "spec.devices: Too many: 33: must have at most 32 items",
		},
		"slice no devices": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Devices = []v1alpha1.Device{} }),
			wantMsg: "spec.devices in body should have at least 1 items",
		},
		"slice no servers": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Application.Servers = []string{} }),
			wantMsg: "spec.application.servers in body should have at least 1 items",
		},
		"slice 17 servers": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Application.Servers = servers(17) }),
			wantMsg: "spec.application.servers: Too many: 17: must have at most 16 items",
		},
		"slice server CIDR with prefix 33": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Application.Servers = []string{"10.100.0.0/33"} }),
			wantMsg: "each server must be an IP address (10.0.0.5) or a CIDR (10.0.0.0/24)",
		},
		"slice server as a host name": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Application.Servers = []string{"pacs.hospital.example"} }),
			wantMsg: "each server must be an IP address (10.0.0.5) or a CIDR (10.0.0.0/24)",
		},
		"slice duplicate server": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Application.Servers = []string{"10.100.0.10", "10.100.0.10"} }),
			wantMsg: `spec.application.servers[1]: Duplicate value: "10.100.0.10"`,
		},
		"slice port 0": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Application.Ports = []string{"0"} }),
			wantMsg: "ports must be between 1 and 65535",
		},
		"slice port 70000": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Application.Ports = []string{"443", "70000"} }),
			wantMsg: "ports must be between 1 and 65535",
		},
		"slice port range reversed": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Application.Ports = []string{"5010-5000"} }),
			wantMsg: "a port range N-M needs N <= M",
		},
		"slice port garbage": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Application.Ports = []string{"https"} }),
			wantMsg: "each port must be a number N or a range N-M",
		},
		"slice port range open ended": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Application.Ports = []string{"5000-"} }),
			wantMsg: "each port must be a number N or a range N-M",
		},
		"slice unknown protocol": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Application.Protocol = "SCTP" }),
			wantMsg: `spec.application.protocol: Unsupported value: "SCTP": supported values: "UDP", "TCP", "ANY"`,
		},
		"slice schedule end before start": {
			obj: sliceWith(func(s *v1alpha1.MedicalSlice) {
				s.Spec.Schedule.End = metav1.NewTime(s.Spec.Schedule.Start.Add(-time.Hour))
			}),
			wantMsg: "spec.schedule: Invalid value: schedule.end must be after schedule.start",
		},
		"slice schedule end equal to start": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Schedule.End = s.Spec.Schedule.Start }),
			wantMsg: "spec.schedule: Invalid value: schedule.end must be after schedule.start",
		},
		"slice lead time negative": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Schedule.LeadTime = dur(-5 * time.Minute) }),
			wantMsg: "leadTime must be a duration from 0s to 24h",
		},
		"slice lead time not a duration": {
			obj:     validSlice(),
			raw:     map[string]any{"spec.schedule.leadTime": "quarter of an hour"},
			wantMsg: "leadTime must be a duration from 0s to 24h",
		},
		"slice SST 256": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.SNSSAI = &v1alpha1.SNSSAI{SST: 256, SD: "000001"} }),
			wantMsg: "spec.snssai.sst in body should be less than or equal to 255",
		},
		"slice SD of 8 hex digits": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.SNSSAI = &v1alpha1.SNSSAI{SST: 2, SD: "00000001"} }),
			wantMsg: "spec.snssai.sd in body should match '^[A-Fa-f0-9]{6}$'",
		},
		"slice purpose with a script tag": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Purpose = "laparoscopy <script>alert(1)</script>" }),
			wantMsg: "purpose is plain text: remove < and >",
		},
		"slice purpose too long": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Purpose = strings.Repeat("a", 257) }),
			wantMsg: "spec.purpose: Too long: may not be more than 256 bytes",
		},
		"slice dnn with a space": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.DNN = "hospital net" }),
			wantMsg: "dnn must be a data network name",
		},
		"slice profile name in upper case": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Profile = "Surgery-URLLC" }),
			wantMsg: "spec.profile in body should match",
		},
		"slice probe target without port": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Probe.Target = "10.45.0.11" }),
			wantMsg: "probe.target must be host:port with a port from 1 to 65535",
		},
		"slice probe target port 0": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Probe.Target = "10.45.0.11:0" }),
			wantMsg: "probe.target must be host:port with a port from 1 to 65535",
		},
		"slice probe target port 70000": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.Probe.Target = "[2001:db8::7]:70000" }),
			wantMsg: "probe.target must be host:port with a port from 1 to 65535",
		},
		"slice qos override gbr above mbr": {
			obj: sliceWith(func(s *v1alpha1.MedicalSlice) {
				s.Spec.QoS = &v1alpha1.QoS{GBRDownlinkKbps: ptr[int64](30000), MBRDownlinkKbps: ptr[int64](20000)}
			}),
			wantMsg: "gbrDownlinkKbps must not exceed mbrDownlinkKbps",
		},
		"slice qos override 5QI 0": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.QoS = &v1alpha1.QoS{FiveQI: ptr[int32](0)} }),
			wantMsg: "spec.qos.fiveQI in body should be greater than or equal to 1",
		},
		"slice sla override loss ratio garbage": {
			obj:     sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.SLA = &v1alpha1.SLATargets{LossRatio: "none"} }),
			wantMsg: "lossRatio must be a share between 0 and 1",
		},
		"slice update changing coreRef": {
			obj:     validSlice(),
			update:  func(o client.Object) { o.(*v1alpha1.MedicalSlice).Spec.CoreRef = "emulator-nef" },
			wantMsg: "spec.coreRef: Invalid value: coreRef cannot change: delete the slice and create one on the other core",
		},
		"slice update adding a device without an address": {
			obj: validSlice(),
			update: func(o client.Object) {
				s := o.(*v1alpha1.MedicalSlice)
				s.Spec.Purpose = "robotic-assisted laparoscopy, OR-3, extended"
				s.Spec.Devices = append(s.Spec.Devices, v1alpha1.Device{Name: "insufflator", GPSI: "msisdn-4930123457"})
			},
			wantMsg: "spec.devices[2]: Invalid value: a device needs ipv4 or ipv6",
		},
		"slice update reversing the schedule": {
			obj: validSlice(),
			update: func(o client.Object) {
				s := o.(*v1alpha1.MedicalSlice)
				s.Spec.Schedule.Start, s.Spec.Schedule.End = s.Spec.Schedule.End, s.Spec.Schedule.Start
			},
			wantMsg: "spec.schedule: Invalid value: schedule.end must be after schedule.start",
		},
	}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			u := toUnstructured(t, tc.obj.DeepCopyObject().(client.Object), objectName(name))
			for path, v := range tc.raw {
				if err := unstructured.SetNestedField(u.Object, v, strings.Split(path, ".")...); err != nil {
					t.Fatalf("setting %s: %v", path, err)
				}
			}
			if tc.update == nil {
				err := env.Client.Create(ctx, u, strict)
				if err == nil {
					_ = env.Client.Delete(ctx, u)
				}
				assertRejected(t, err, tc.wantMsg)
				return
			}

			if err := env.Client.Create(ctx, u, strict); err != nil {
				t.Fatalf("creating the valid original: %v", err)
			}
			t.Cleanup(func() { _ = env.Client.Delete(context.Background(), u) })
			key := client.ObjectKeyFromObject(u)
			stored := tc.obj.DeepCopyObject().(client.Object)
			if err := env.Client.Get(ctx, key, stored); err != nil {
				t.Fatalf("reading the original back: %v", err)
			}
			before := stored.DeepCopyObject().(client.Object)

			tc.update(stored)
			assertRejected(t, env.Client.Update(ctx, stored, strict), tc.wantMsg)

			// A rejected update loses nothing that was already accepted.
			after := tc.obj.DeepCopyObject().(client.Object)
			if err := env.Client.Get(ctx, key, after); err != nil {
				t.Fatalf("reading the object after the rejected update: %v", err)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("stored object changed by a rejected update (-before +after):\n%s", diff)
			}
		})
	}
}

// TestValidEdgeCasesAreAccepted keeps the rules from rejecting what they
// should allow: each variation is valid and must be stored as sent.
func TestValidEdgeCasesAreAccepted(t *testing.T) {
	ensureNamespace(t)
	cases := map[string]struct {
		obj client.Object
	}{
		"base profile": {obj: validProfile()},
		"base core":    {obj: validCore()},
		"base slice":   {obj: validSlice()},
		"PCF core without afID": {obj: coreWith(func(c *v1alpha1.CoreNetwork) {
			c.Spec.API, c.Spec.AFID, c.Spec.Endpoint = v1alpha1.CoreAPIPCF, "", "http://10.100.0.2:8000/"
		})},
		"eMBB profile without GBR and pre-emptable": {obj: profileWith(func(p *v1alpha1.SliceProfile) {
			p.Spec.ServiceType, p.Spec.QoS.FiveQI, p.Spec.AlternativeQoS = v1alpha1.ServiceTypeEMBB, ptr[int32](9), nil
			p.Spec.QoS.GBRUplinkKbps, p.Spec.QoS.GBRDownlinkKbps = nil, nil
			p.Spec.QoS.ARP.PreemptVuln = v1alpha1.PreemptionPreemptable
		})},
		"URLLC profile with downlink GBR only": {obj: profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.QoS.GBRUplinkKbps = nil })},
		"profile with loss ratio in E notation and availability 100": {obj: profileWith(func(p *v1alpha1.SliceProfile) {
			p.Spec.SLA.LossRatio, p.Spec.SLA.AvailabilityPercent = "1e-4", "100"
		})},
		"profile with loss ratio 0": {obj: profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SLA.LossRatio = "0" })},
		"profile with durations as Go writes them": {obj: profileWith(func(p *v1alpha1.SliceProfile) {
			p.Spec.SLA.RTTP99 = dur(500 * time.Microsecond) // "500µs"
			p.Spec.SLA.VerificationPeriod = dur(90 * time.Minute)
			p.Spec.MaxDuration = dur(12*time.Hour + 30*time.Minute) // "12h30m0s"
		})},
		"profile with a full DNN":       {obj: profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.DNN = "hospital.mnc093.mcc208.gprs" })},
		"profile with an upper-case SD": {obj: profileWith(func(p *v1alpha1.SliceProfile) { p.Spec.SNSSAI.SD = "A1B2C3" })},
		"slice with IPv6 devices, CIDR servers and wide port ranges": {obj: sliceWith(func(s *v1alpha1.MedicalSlice) {
			s.Spec.Devices = []v1alpha1.Device{{Name: "arm", IPv6: "2001:db8::7"}, {Name: "cart", IPv4: "10.45.0.12", IPv6: "2001:db8::8"}}
			s.Spec.Application.Servers = []string{"10.100.0.0/24", "2001:db8:100::/64", "2001:db8:100::5"}
			s.Spec.Application.Ports = []string{"1", "65535", "1-65535", "5004-5004"}
			s.Spec.Probe.Target = "[2001:db8::7]:862"
		})},
		"slice with a host name probe target and extid gpsi": {obj: sliceWith(func(s *v1alpha1.MedicalSlice) {
			s.Spec.Probe.Target = "reflector.or-3.svc:862"
			s.Spec.Devices[1].GPSI = "extid-vision-cart@hospital.example"
		})},
		"slice with lead time 0s and no ports": {obj: sliceWith(func(s *v1alpha1.MedicalSlice) {
			s.Spec.Schedule.LeadTime = dur(0)
			s.Spec.Application.Ports = nil
		})},
		"slice with 32 devices and 16 servers": {obj: sliceWith(func(s *v1alpha1.MedicalSlice) {
			s.Spec.Devices = devices(32)
			s.Spec.Application.Servers = servers(16)
		})},
		"open-ended slice with overrides": {obj: sliceWith(func(s *v1alpha1.MedicalSlice) {
			s.Spec.Schedule, s.Spec.Probe = nil, nil
			s.Spec.QoS = &v1alpha1.QoS{GBRUplinkKbps: ptr[int64](10000)}
			s.Spec.SLA = &v1alpha1.SLATargets{RTTP99: dur(15 * time.Millisecond)}
			s.Spec.DNN = "internet"
		})},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			u := toUnstructured(t, tc.obj.DeepCopyObject().(client.Object), objectName(name))
			sent, _, _ := unstructured.NestedMap(u.Object, "spec")
			if err := env.Client.Create(ctx, u, strict); err != nil {
				t.Fatalf("rejected: %v", err)
			}
			t.Cleanup(func() { _ = env.Client.Delete(context.Background(), u) })
			stored, _, _ := unstructured.NestedMap(u.Object, "spec")
			if diff := cmp.Diff(sent, stored); diff != "" {
				t.Errorf("stored spec differs from the one sent (-sent +stored):\n%s", diff)
			}
		})
	}
}

// TestARPDefaultsToNotPreemptable protects DESIGN §6 against omission: an ARP
// written without preemptVuln, in a profile or in a slice's override (which
// replaces the profile's ARP as a whole), must not make the flow pre-emptable.
func TestARPDefaultsToNotPreemptable(t *testing.T) {
	ensureNamespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()

	p := profileWith(func(p *v1alpha1.SliceProfile) {
		p.Spec.QoS.ARP = &v1alpha1.ARP{PriorityLevel: 1}
		p.Spec.AlternativeQoS.ARP = &v1alpha1.ARP{PriorityLevel: 1}
	})
	p.Name = "arp-default"
	if err := env.Client.Create(ctx, p); err != nil {
		t.Fatalf("creating a URLLC profile whose ARP omits the pre-emption flags: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), p) })

	s := sliceWith(func(s *v1alpha1.MedicalSlice) { s.Spec.QoS = &v1alpha1.QoS{ARP: &v1alpha1.ARP{PriorityLevel: 2}} })
	s.Name, s.Namespace = "arp-default", testNamespace
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatalf("creating a slice whose ARP override omits the pre-emption flags: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), s) })

	want := v1alpha1.ARP{PreemptCap: v1alpha1.PreemptionNotPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable}
	for what, got := range map[string]*v1alpha1.ARP{
		"profile qos.arp":            p.Spec.QoS.ARP,
		"profile alternativeQoS.arp": p.Spec.AlternativeQoS.ARP,
		"slice qos.arp":              s.Spec.QoS.ARP,
	} {
		if got.PreemptCap != want.PreemptCap || got.PreemptVuln != want.PreemptVuln {
			t.Errorf("%s defaulted to %s/%s, want %s/%s", what, got.PreemptCap, got.PreemptVuln, want.PreemptCap, want.PreemptVuln)
		}
	}
}
