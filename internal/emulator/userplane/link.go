package userplane

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
)

// backgroundChunk is the size of one synthetic background packet: a full
// Ethernet frame's IP packet. A provisioned packet that arrives during a
// background burst waits for at most one of them (the scheduler does not
// pre-empt a packet being sent).
const backgroundChunk = 1500

// minQueueLimit keeps a queue able to hold at least one largest datagram
// however slow the link.
const minQueueLimit = maxDatagram + ipv6Overhead

// neverNs is "no event".
const neverNs = math.MaxInt64

// linkParams is a link's configuration.
type linkParams struct {
	rate  uint64 // bits per second, > 0
	delay int64  // base one-way delay, ns
	limit int    // bytes each queue holds at most
}

// impairment is what an Impairment does to one packet in one direction.
type impairment struct {
	delay, jitter int64 // ns
	loss          float64
}

// queueCounters are a queue's counters.
type queueCounters struct {
	forwarded, dropped, lost uint64
}

// link is one direction of the emulated radio link: a strict-priority
// scheduler over one FIFO per priority level (TS 23.501 §5.7.3.3) feeding a
// transmitter of the link's rate, then a delay line for the base delay and
// the impairments.
//
// The link runs on a virtual clock. Every decision the transmitter makes is
// computed from arrival times, at the time it would have been made, so a
// scheduler goroutine that wakes late changes nothing but the moment a
// packet is actually written: only a decision whose time has come (start ≤
// now) is committed, since a packet that arrives later may still change it.
// Background load is simulated, never materialised: bursts are added to the
// best-effort queue lazily, in time order, when the link is next advanced.
type link struct {
	dir  Direction
	now  func() int64
	w    *waker // wakes the scheduler goroutine; nil in tests
	spin int64  // busy-wait before a delivery, ns

	mu       sync.Mutex
	p        linkParams
	queues   [numLevels]fifo
	busy     [(numLevels + 63) / 64]uint64 // bit per non-empty level
	linkFree int64                         // when the transmitter is next free
	simTime  int64                         // the link has been advanced to here
	seq      uint64
	bg       background
	line     delayLine
	rng      *rand.Rand
	counters [numLevels]queueCounters
	planned  int64 // what the scheduler's timer is set to
	closed   bool

	sendErrors atomic.Uint64
}

// background is synthetic best-effort load: bursts of burst bytes every
// period, averaging the configured rate. Bursts model traffic that arrives
// from a faster network (imaging from a gigabit LAN into a 100 Mbps radio
// link): they build a queue that drains at the link rate, which is what
// best-effort packets then wait behind.
type background struct {
	on        bool
	rate      uint64 // bits per second
	burst     int    // bytes per burst
	period    int64  // ns between bursts
	next      int64  // arrival of the next burst
	offered   uint64 // bytes
	sent      uint64 // bytes
	sentPkts  uint64
	dropped   uint64 // bytes refused by a full queue
	burstTime int64  // the burst as link time, ns, as configured
}

func newLink(dir Direction, p linkParams, seed uint64, now func() int64, w *waker, spin int64) *link {
	l := &link{dir: dir, now: now, w: w, spin: spin, p: p, planned: neverNs}
	l.rng = rand.New(rand.NewPCG(seed, uint64(dir)+0x9e3779b97f4a7c15))
	return l
}

// txTime is how long the transmitter takes to send wire bytes.
func (l *link) txTime(wire int) int64 {
	return int64((uint64(wire)*8*1e9 + l.p.rate/2) / l.p.rate)
}

func (l *link) setBusy(level int)   { l.busy[level/64] |= 1 << (level % 64) }
func (l *link) clearBusy(level int) { l.busy[level/64] &^= 1 << (level % 64) }

// levels calls fn for each non-empty level below limit, in priority order,
// until fn returns false.
func (l *link) levels(limit int, fn func(level int) bool) {
	for w, word := range l.busy {
		for word != 0 {
			level := w*64 + bits.TrailingZeros64(word)
			if level >= limit || !fn(level) {
				return
			}
			word &= word - 1
		}
	}
}

// nextStart is when the transmitter next starts a packet if nothing else
// arrives, and from which level: the most urgent level whose head has
// arrived by then (strict priority, not pre-emptive).
func (l *link) nextStart() (start int64, level int, ok bool) {
	first := int64(neverNs)
	l.levels(numLevels, func(lv int) bool {
		first = min(first, l.queues[lv].front().arrival)
		return true
	})
	if first == neverNs {
		return 0, 0, false
	}
	start = max(l.linkFree, first)
	l.levels(numLevels, func(lv int) bool {
		if l.queues[lv].front().arrival <= start {
			level, ok = lv, true
			return false
		}
		return true
	})
	return start, level, ok
}

// advance commits every transmission that starts by now, with the
// background bursts that arrive by then. Called with mu held.
func (l *link) advance(now int64) {
	if now < l.simTime {
		now = l.simTime
	}
	for {
		start, level, ok := l.nextStart()
		if bg := &l.bg; bg.on && bg.next <= now && (!ok || bg.next <= start) {
			l.addBurst(bg.next)
			bg.next += bg.period
			continue
		}
		if !ok || start > now {
			break
		}
		l.serve(level, start, now)
	}
	l.simTime = now
}

// serve sends the head of level from start on.
func (l *link) serve(level int, start, now int64) {
	q := &l.queues[level]
	p := q.front()
	if !p.synthetic {
		q.pop()
		q.bytes -= p.wire
		if q.n == 0 {
			l.clearBusy(level)
		}
		l.linkFree = start + l.txTime(p.wire)
		p.deliverAt = l.linkFree + l.p.delay + p.extra
		p.seq = l.seq
		l.seq++
		l.line.push(p)
		l.counters[level].forwarded++
		return
	}
	// A background run is sent in backgroundChunk packets back to back,
	// as many as start before anything could interrupt the run: the
	// arrival of a more urgent packet (which then goes at the next chunk
	// boundary), the next burst (which may join this run), or now (beyond
	// which nothing is committed).
	horizon := now
	l.levels(level, func(lv int) bool {
		horizon = min(horizon, l.queues[lv].front().arrival-1)
		return true
	})
	if l.bg.on {
		horizon = min(horizon, l.bg.next-1)
	}
	chunkTx := l.txTime(backgroundChunk)
	k := int64(1)
	if horizon > start {
		k += (horizon - start) / chunkTx
	}
	chunks := int64((p.wire + backgroundChunk - 1) / backgroundChunk)
	if k >= chunks {
		k = chunks
		lastChunk := p.wire - int(chunks-1)*backgroundChunk
		l.linkFree = start + (chunks-1)*chunkTx + l.txTime(lastChunk)
		l.bg.sent += uint64(p.wire)
		q.bytes -= p.wire
		q.pop()
		if q.n == 0 {
			l.clearBusy(level)
		}
		release(p)
	} else {
		sent := int(k) * backgroundChunk
		l.linkFree = start + k*chunkTx
		p.wire -= sent
		q.bytes -= sent
		l.bg.sent += uint64(sent)
	}
	l.bg.sentPkts += uint64(k)
}

// addBurst adds one background burst arriving at at, as much of it as the
// best-effort queue holds.
func (l *link) addBurst(at int64) {
	bg := &l.bg
	q := &l.queues[BestEffort]
	n := bg.burst
	bg.offered += uint64(n)
	if room := l.p.limit - q.bytes; n > room {
		drop := n - max(room, 0)
		bg.dropped += uint64(drop)
		n -= drop
	}
	if n <= 0 {
		return
	}
	if q.n > 0 && q.back().synthetic {
		// Contiguous background bytes form one run; the order of what is
		// queued does not change.
		q.back().wire += n
		q.bytes += n
		return
	}
	run := getRun(n)
	run.arrival = at
	q.push(run)
	l.setBusy(BestEffort)
}

// enqueue admits a datagram that arrived now: it may be lost to an
// impairment or to a full queue (then enqueue reports false and the caller
// keeps the packet), otherwise the link owns it.
func (l *link) enqueue(p *packet, imp *impairment) bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	now := l.now()
	l.advance(now)
	level := int(p.level)
	if imp != nil {
		// Drawn only for impaired packets, so a seeded run depends on
		// nothing but the impaired traffic.
		if imp.loss > 0 && l.rng.Float64() < imp.loss {
			l.counters[level].lost++
			l.mu.Unlock()
			return false
		}
		p.extra = imp.delay
		if imp.jitter > 0 {
			p.extra += int64((2*l.rng.Float64() - 1) * float64(imp.jitter))
		}
		p.extra = max(p.extra, 0)
	}
	q := &l.queues[level]
	if q.bytes+p.wire > l.p.limit {
		l.counters[level].dropped++
		l.mu.Unlock()
		return false
	}
	p.arrival = now
	q.push(p)
	l.setBusy(level)
	l.advance(now)
	if wake := l.wakeTarget(); wake < l.planned {
		l.setWake(wake)
	}
	l.mu.Unlock()
	return true
}

// nextWake is when the scheduler goroutine must next act: the next
// delivery, or the start of the next datagram's transmission (a packet that
// arrives before then may still take its place). Background runs need no
// wake-up: they are simulated when the link is next advanced.
//
// precise tells that the wake-up is a delivery, which must happen on time;
// a transmission start may be late, since the link computes it on its
// virtual clock anyway.
func (l *link) nextWake() (wake int64, precise bool) {
	wake = neverNs
	if len(l.line) > 0 {
		wake, precise = l.line[0].deliverAt, true
	}
	start, level, ok := l.nextStart()
	if !ok {
		return wake, precise
	}
	q := &l.queues[level]
	if q.front().synthetic {
		// Only best effort holds runs, so nothing more urgent is queued:
		// the first datagram goes once the runs ahead of it are sent.
		if q.real == 0 {
			return wake, precise
		}
		ahead := 0
		for i := range q.n {
			p := q.at(i)
			if !p.synthetic {
				break
			}
			ahead += p.wire
		}
		start += l.txTime(ahead)
	}
	if start < wake {
		return start, false
	}
	return wake, precise
}

// wakeTarget is when to set the scheduler's timer: a spin early for a
// delivery, so that the busy-wait takes the wake-up latency out of it.
func (l *link) wakeTarget() int64 {
	wake, precise := l.nextWake()
	if precise {
		wake -= l.spin
	}
	return wake
}

// setWake sets the scheduler's timer. Called with mu held, so that the
// timer always holds the earliest wake-up any goroutine asked for.
func (l *link) setWake(at int64) {
	l.planned = at
	if l.w != nil {
		l.w.arm(at)
	}
}

// due advances the link to now, moves the packets whose delivery time has
// come to out and sets the timer for what comes next. open is false once the
// link is closed.
func (l *link) due(out []*packet) (_ []*packet, open bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return out, false
	}
	now := l.now()
	l.advance(now)
	for len(l.line) > 0 && l.line[0].deliverAt <= now {
		out = append(out, l.line.pop())
	}
	l.setWake(l.wakeTarget())
	return out, true
}

// imminent is the next delivery if it is due within the spin, else neverNs.
func (l *link) imminent() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.line) == 0 || l.line[0].deliverAt-l.now() > l.spin {
		return neverNs
	}
	return l.line[0].deliverAt
}

// run is the scheduler goroutine: it delivers packets when their time
// comes and sleeps in between, until the link is closed.
func (l *link) run() {
	var batch []*packet
	for {
		var open bool
		batch, open = l.due(batch[:0])
		if !open {
			return
		}
		for i, p := range batch {
			if err := p.send(); err != nil {
				l.sendErrors.Add(1)
			}
			release(p)
			batch[i] = nil
		}
		if len(batch) > 0 {
			continue // time has passed while writing
		}
		if !l.w.wait() {
			return
		}
		if d := l.imminent(); d != neverNs {
			for l.now() < d {
				// Busy-wait: the kernel's and the runtime's wake-up
				// latency is tens of µs, what this takes out of the
				// delivery time.
			}
		}
	}
}

// setBackground switches background load on (rate > 0) or off. burstTime is
// how long one burst takes to send at the link rate.
func (l *link) setBackground(rate uint64, burstTime int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.advance(now)
	l.setBackgroundLocked(rate, burstTime)
	if l.bg.on {
		l.bg.next = now
	}
}

func (l *link) setBackgroundLocked(rate uint64, burstTime int64) {
	bg := &l.bg
	if rate == 0 {
		bg.on, bg.rate, bg.burstTime = false, 0, 0
		return
	}
	burst := max(int(uint64(burstTime)*l.p.rate/8/1e9), backgroundChunk)
	bg.on, bg.rate, bg.burst, bg.burstTime = true, rate, burst, burstTime
	bg.period = max(int64(uint64(burst)*8*1e9/rate), 1)
}

// close stops the link and hands back every packet it holds.
func (l *link) close() []*packet {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	var held []*packet
	for lv := range l.queues {
		q := &l.queues[lv]
		for q.n > 0 {
			held = append(held, q.pop())
		}
		q.bytes = 0
	}
	l.busy = [len(l.busy)]uint64{}
	for len(l.line) > 0 {
		held = append(held, l.line.pop())
	}
	return held
}

// LinkStats describes one direction of the emulated link.
type LinkStats struct {
	Direction string `json:"direction"`
	// Queues has one entry per priority level that has seen traffic, most
	// urgent first, and always the best-effort queue last.
	Queues []QueueStats `json:"queues"`
	// InFlight counts datagrams sent on the link and not yet delivered
	// (base delay, impairment delay).
	InFlight   int             `json:"inFlight"`
	Background BackgroundStats `json:"background"`
	// SendErrors counts datagrams the emulator could not write out (the
	// route was removed meanwhile, the reflector is down).
	SendErrors uint64 `json:"sendErrors"`
}

// QueueStats counts one scheduler queue's datagrams.
type QueueStats struct {
	// Name is "priority-<level>" or "best-effort".
	Name string `json:"name"`
	// PriorityLevel is the TS 23.501 priority level, 128 for best effort.
	PriorityLevel int `json:"priorityLevel"`
	// Forwarded counts datagrams sent on the link.
	Forwarded uint64 `json:"forwarded"`
	// Dropped counts datagrams refused by a full queue (drop-tail).
	Dropped uint64 `json:"dropped"`
	// Lost counts datagrams an impairment's loss ratio dropped.
	Lost uint64 `json:"lost"`
	// Queued and QueuedBytes are what waits now: datagrams, and wire bytes
	// including background bytes.
	Queued      int `json:"queued"`
	QueuedBytes int `json:"queuedBytes"`
}

// BackgroundStats counts the synthetic background load.
type BackgroundStats struct {
	OfferedBytes uint64 `json:"offeredBytes"`
	SentBytes    uint64 `json:"sentBytes"`
	SentPackets  uint64 `json:"sentPackets"`
	DroppedBytes uint64 `json:"droppedBytes"`
}

func (l *link) stats() LinkStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.advance(l.now())
	}
	s := LinkStats{
		Direction: l.dir.String(),
		InFlight:  len(l.line),
		Background: BackgroundStats{
			OfferedBytes: l.bg.offered, SentBytes: l.bg.sent, SentPackets: l.bg.sentPkts, DroppedBytes: l.bg.dropped,
		},
		SendErrors: l.sendErrors.Load(),
	}
	for lv := MinPriorityLevel; lv < numLevels; lv++ {
		c, q := l.counters[lv], &l.queues[lv]
		if lv != BestEffort && c == (queueCounters{}) && q.n == 0 {
			continue
		}
		name := "best-effort"
		if lv != BestEffort {
			name = "priority-" + strconv.Itoa(lv)
		}
		s.Queues = append(s.Queues, QueueStats{
			Name: name, PriorityLevel: lv, Forwarded: c.forwarded, Dropped: c.dropped, Lost: c.lost,
			Queued: q.real, QueuedBytes: q.bytes,
		})
	}
	return s
}
