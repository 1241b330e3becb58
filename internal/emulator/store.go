package emulator

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/free5gc/openapi/models"
)

// API names the southbound API a session was created through.
type API string

const (
	// APINEF is NEF AsSessionWithQoS (TS 29.122 §5.14).
	APINEF API = "nef"
	// APIPCF is PCF Npcf_PolicyAuthorization (TS 29.514).
	APIPCF API = "pcf"
)

// SNSSAI is the network slice of a session (TS 29.571 Snssai).
type SNSSAI struct {
	SST int32  `json:"sst"`
	SD  string `json:"sd,omitempty"`
}

// Session is one session as the admin API shows it: what the emulator
// understood of the request, not the request itself.
type Session struct {
	ID  string `json:"id"`
	API API    `json:"api"`
	// ResourceURI is the session's URL on the API it was created through.
	ResourceURI string `json:"resourceUri"`
	// SCSASID is the NEF AF identifier (path segment scsAsId); empty for PCF.
	SCSASID   string  `json:"scsAsId,omitempty"`
	UEAddress string  `json:"ueAddress"`
	DNN       string  `json:"dnn,omitempty"`
	SNSSAI    *SNSSAI `json:"snssai,omitempty"`
	// FlowDescriptions are the IPFilterRules of every flow, in request order.
	FlowDescriptions []string `json:"flowDescriptions"`
	// QoSReference is NEF qosReference or the first PCF media component's.
	QoSReference string `json:"qosReference,omitempty"`
	// FiveQI is the 5QI the emulator derived, 0 when it could not: NEF from a
	// qosReference of the form "5qi-<n>" or "<n>"; PCF from the media type of
	// the lowest-numbered media component, as free5GC's PCF picks it
	// (AUDIO → 1, VIDEO and APPLICATION → 2, anything else → 9).
	FiveQI int32 `json:"fiveQI"`
	// GBR and MBR per direction: NEF tscQosReq reqGbr*/reqMbr*; PCF the sum
	// over media components of mirBw* (marBw* when mirBw* is absent, as
	// free5GC does) and marBw*.
	GBRUplink   BitRate `json:"gbrUl"`
	GBRDownlink BitRate `json:"gbrDl"`
	MBRUplink   BitRate `json:"mbrUl"`
	MBRDownlink BitRate `json:"mbrDl"`
	// NotificationURI is NEF notificationDestination or PCF ascReqData.notifUri.
	NotificationURI string `json:"notificationUri"`
	// Correlation is "{sliceUID}/{device}" parsed from a medslice notification
	// URI, empty when the URI has another shape.
	Correlation string `json:"correlation"`
	// CreatedAt and UpdatedAt are when the emulator accepted the create and
	// the last change; ExpiresAt is when it ends the session unless renewed.
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// record is a stored session. Records are immutable once stored: an update
// stores a new record, so a reader may use one outside the store's lock.
type record struct {
	Session
	nef *models.Nef_AsSessQoS_AsSessionWithQoSSubscription // APINEF only
	pcf *models.Pcf_PolAuth_AppSessionContextReqData       // APIPCF only
	// pcfSuppFeat is what the emulator answers in ascRespData.suppFeat.
	pcfSuppFeat string
}

// Capacity is what the emulated core can guarantee at once. Zero means
// unlimited.
type Capacity struct {
	GBRUplink   BitRate
	GBRDownlink BitRate
	MaxSessions int
}

// capacityError says which limit a request would exceed.
type capacityError struct {
	what string
	// rate is set when a bit rate budget was exceeded; availableUl and
	// availableDl then say what is left, nil for an unlimited direction.
	rate                     bool
	availableUl, availableDl *BitRate
}

func (e *capacityError) Error() string { return "capacity exceeded: " + e.what }

// store holds every session, safe for concurrent use.
type store struct {
	capacity Capacity

	mu       sync.Mutex
	byID     map[string]*record
	pcfEquiv map[string]string // pcfEquivalenceKey → id
	expiry   expiryHeap
	gbrUl    BitRate
	gbrDl    BitRate
}

func newStore(c Capacity) *store {
	return &store{capacity: c, byID: map[string]*record{}, pcfEquiv: map[string]string{}}
}

// pcfEquivalenceKey is what makes two PCF creates "equivalent" (TS 29.514
// §5.3.2, 303 See Other): medslice retries a create after a crash with the
// same UE address and the same notification URI, which carries the slice and
// device, so the same pair means the same intent.
func pcfEquivalenceKey(ueAddress, notifURI string) string {
	return ueAddress + "\x00" + notifURI
}

// checkCapacity tells whether adding add and removing drop fits. Called with
// mu held.
func (st *store) checkCapacity(add, drop *record) error {
	c := st.capacity
	n := len(st.byID)
	ul, dl := st.gbrUl, st.gbrDl
	if drop != nil {
		n--
		ul -= drop.GBRUplink
		dl -= drop.GBRDownlink
	}
	left := func(limit, used BitRate) *BitRate {
		if limit == 0 {
			return nil
		}
		v := BitRate(0)
		if limit > used {
			v = limit - used
		}
		return &v
	}
	availUl, availDl := left(c.GBRUplink, ul), left(c.GBRDownlink, dl)
	switch {
	case c.MaxSessions > 0 && n+1 > c.MaxSessions:
		return &capacityError{what: fmt.Sprintf("the core holds %d of at most %d sessions", n, c.MaxSessions)}
	case availUl != nil && addSat(ul, add.GBRUplink) > c.GBRUplink:
		return &capacityError{
			what: fmt.Sprintf("uplink GBR %s requested, %s of %s available", add.GBRUplink, *availUl, c.GBRUplink),
			rate: true, availableUl: availUl, availableDl: availDl,
		}
	case availDl != nil && addSat(dl, add.GBRDownlink) > c.GBRDownlink:
		return &capacityError{
			what: fmt.Sprintf("downlink GBR %s requested, %s of %s available", add.GBRDownlink, *availDl, c.GBRDownlink),
			rate: true, availableUl: availUl, availableDl: availDl,
		}
	}
	return nil
}

// insert stores a new session if it fits. For a PCF session equivalent to an
// existing one it stores nothing and returns the existing one instead.
func (st *store) insert(rec *record) (existing *record, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var key string
	if rec.API == APIPCF {
		key = pcfEquivalenceKey(rec.UEAddress, rec.NotificationURI)
		if id, ok := st.pcfEquiv[key]; ok {
			return st.byID[id], nil
		}
	}
	if _, dup := st.byID[rec.ID]; dup {
		return nil, fmt.Errorf("session id %s already in use", rec.ID)
	}
	if err := st.checkCapacity(rec, nil); err != nil {
		return nil, err
	}
	st.byID[rec.ID] = rec
	if key != "" {
		st.pcfEquiv[key] = rec.ID
	}
	st.gbrUl = addSat(st.gbrUl, rec.GBRUplink)
	st.gbrDl = addSat(st.gbrDl, rec.GBRDownlink)
	heap.Push(&st.expiry, expiryItem{at: rec.ExpiresAt, id: rec.ID})
	return nil, nil
}

// get returns a session, nil when unknown.
func (st *store) get(id string) *record {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.byID[id]
}

// errUnknownSession is returned by update for an id the store does not hold.
var errUnknownSession = fmt.Errorf("unknown session")

// update replaces a session with what change makes of it, atomically, if the
// result fits the capacity. change must not modify old; it may return an
// error (a *problem, typically) to refuse the update.
func (st *store) update(id string, change func(old *record) (*record, error)) (*record, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	old := st.byID[id]
	if old == nil {
		return nil, errUnknownSession
	}
	rec, err := change(old)
	if err != nil {
		return nil, err
	}
	if err := st.checkCapacity(rec, old); err != nil {
		return nil, err
	}
	st.byID[id] = rec
	if old.API == APIPCF {
		delete(st.pcfEquiv, pcfEquivalenceKey(old.UEAddress, old.NotificationURI))
		st.pcfEquiv[pcfEquivalenceKey(rec.UEAddress, rec.NotificationURI)] = id
	}
	st.gbrUl = addSat(st.gbrUl-old.GBRUplink, rec.GBRUplink)
	st.gbrDl = addSat(st.gbrDl-old.GBRDownlink, rec.GBRDownlink)
	if !rec.ExpiresAt.Equal(old.ExpiresAt) {
		heap.Push(&st.expiry, expiryItem{at: rec.ExpiresAt, id: id})
	}
	return rec, nil
}

// remove forgets a session and returns it, nil when unknown.
func (st *store) remove(id string) *record {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.removeLocked(id)
}

func (st *store) removeLocked(id string) *record {
	rec := st.byID[id]
	if rec == nil {
		return nil
	}
	delete(st.byID, id)
	if rec.API == APIPCF {
		delete(st.pcfEquiv, pcfEquivalenceKey(rec.UEAddress, rec.NotificationURI))
	}
	st.gbrUl -= rec.GBRUplink
	st.gbrDl -= rec.GBRDownlink
	// The expiry heap keeps a stale item; expire skips it.
	return rec
}

// expire removes and returns every session whose expiresAt is not after now.
func (st *store) expire(now time.Time) []*record {
	st.mu.Lock()
	defer st.mu.Unlock()
	var gone []*record
	for st.expiry.Len() > 0 && !st.expiry[0].at.After(now) {
		it := heap.Pop(&st.expiry).(expiryItem)
		rec := st.byID[it.id]
		// Stale items: the session was removed, or renewed to a later time.
		if rec == nil || !rec.ExpiresAt.Equal(it.at) {
			continue
		}
		st.removeLocked(it.id)
		gone = append(gone, rec)
	}
	return gone
}

// reset forgets every session, as a core restart would, and tells how many.
func (st *store) reset() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := len(st.byID)
	st.byID = map[string]*record{}
	st.pcfEquiv = map[string]string{}
	st.expiry = nil
	st.gbrUl, st.gbrDl = 0, 0
	return n
}

// list returns the sessions that match keep (all when keep is nil), oldest
// first.
func (st *store) list(keep func(*record) bool) []*record {
	st.mu.Lock()
	out := make([]*record, 0, len(st.byID))
	for _, rec := range st.byID {
		if keep == nil || keep(rec) {
			out = append(out, rec)
		}
	}
	st.mu.Unlock()
	slices.SortFunc(out, func(a, b *record) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// expiryItem is one scheduled expiry; the heap may hold stale ones.
type expiryItem struct {
	at time.Time
	id string
}

// expiryHeap orders expiries, earliest first.
type expiryHeap []expiryItem

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryItem)) }
func (h *expiryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
