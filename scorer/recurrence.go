package scorer

import "math"

// Daily recurrence. Operations data is full of excursions that come back
// at about the same time every day: a nightly backup, a cron job, a batch
// import, a cache flush. They are too short and their time jitters too
// much (minutes either way) for a seasonal profile to learn them, so
// every night they score as new spikes and, since nobody acts on them,
// teach operators to ignore the alert. recurrence remembers, for each
// 30-minute slot of the day, the largest deviation of each sign on each
// of the last recurDays days, and damps a deviation that is no larger
// than what recurred in the same neighbourhood of the day (the slot and
// its two neighbours) on at least recurNeed of them.
//
// Two safeguards keep it from hiding real anomalies:
//   - A day on which excursions were everywhere (more than recurFrac of
//     its slots) is no evidence: on a bursty series something happened
//     near every time of day, by chance. The daily rate of excursions a
//     day may have is about what makes three neighbouring slots on two of
//     three days coincide by chance with a probability of 5 %.
//   - Only excursions up to recurRatio times the recurring one are
//     damped: a backup that suddenly takes the disk twice as far as usual
//     is news.
//
// The deviations are the core's (z-score-like units). A day is a UTC day
// of the timestamps; the memory costs 4 bits per slot, sign and day.
const (
	recurSlots = 48
	recurDays  = 3
	recurNeed  = 2
	// recurMin is the smallest deviation that counts as an excursion.
	recurMin   = 3.0
	recurRatio = 1.5
	// recurBase is the most a damped deviation keeps: an ordinary one.
	recurBase = 2.0
	// recurFrac, as a count of slots.
	recurFracSlots = recurSlots / 10
	slotMs         = day / recurSlots
)

// recurrence's days[0] is the current day, days[i] the i-th before; each
// byte holds a slot's level of upward deviations in its low nibble and of
// downward ones in its high nibble (see recurLevel).
//
// Only excursions (|deviation| ≥ recurMin) are recorded or damped, so
// the memory moves to the day of a sample only when one comes: a few
// instructions for every other sample.
type recurrence struct {
	days [recurDays + 1][recurSlots]uint8
	// busy counts the slots with a nonzero level, per day and sign.
	busy    [recurDays + 1][2]uint8
	day     int64 // day number of days[0]; valid when started
	started bool
}

// recurLevel quantises a deviation x ≥ recurMin to 1..15, in steps of a
// quarter octave (19 %) from recurMin up to about 40·recurMin; 0 is
// below recurMin. recurFloor is the smallest deviation of a level.
func recurLevel(x float64) uint8 {
	if !(x >= recurMin) {
		return 0
	}
	return uint8(min(1+4*math.Log2(x/recurMin), 15))
}

func recurFloor(l uint8) float64 { return recurMin * math.Exp2(float64(l-1)/4) }

func (r *recurrence) reset() { *r = recurrence{} }

// advance moves the memory to the day of ts, forgetting the days that
// fall out of it, and returns the slot of ts. ts never goes back: the
// detector drops older samples.
func (r *recurrence) advance(ts int64) int {
	d := ts / day
	if ts < 0 && ts%day != 0 {
		d--
	}
	if !r.started {
		r.started, r.day = true, d
	}
	if n := d - r.day; n > 0 {
		n = min(n, recurDays+1)
		copy(r.days[n:], r.days[:recurDays+1-n])
		copy(r.busy[n:], r.busy[:recurDays+1-n])
		for i := range n {
			r.days[i] = [recurSlots]uint8{}
			r.busy[i] = [2]uint8{}
		}
		r.day = d
	}
	return int((ts - d*day) / slotMs)
}

// recurring is the level that recurred around slot on recurNeed of the
// past days (s selects the sign): the recurNeed-th largest of the days'
// neighbourhood maxima, counting busy days as 0.
func (r *recurrence) recurring(slot, s int) uint8 {
	shift := uint(4 * s)
	lo, hi := slot-1, slot+1
	if lo < 0 {
		lo = recurSlots - 1
	}
	if hi == recurSlots {
		hi = 0
	}
	var top [recurNeed]uint8 // descending
	for i := 1; i <= recurDays; i++ {
		if r.busy[i][s] > recurFracSlots {
			continue
		}
		row := &r.days[i]
		m := max(row[lo]>>shift&0xf, row[slot]>>shift&0xf, row[hi]>>shift&0xf)
		for j := range top {
			if m > top[j] {
				m, top[j] = top[j], m
			}
		}
	}
	return top[recurNeed-1]
}

// damp records the deviation dev observed at ts and returns it damped
// if it recurs. NaN passes through unrecorded.
func (r *recurrence) damp(ts int64, dev float64) float64 {
	a := math.Abs(dev)
	if !(a >= recurMin) {
		return dev
	}
	s := 0
	if dev < 0 {
		s = 1
	}
	slot := r.advance(ts)
	shift := uint(4 * s)
	cell := &r.days[0][slot]
	if l := recurLevel(a); l > *cell>>shift&0xf {
		if *cell>>shift&0xf == 0 {
			r.busy[0][s]++
		}
		*cell = *cell&^(0xf<<shift) | l<<shift
	}
	if e := r.recurring(slot, s); e == 0 || a > recurRatio*recurFloor(e) {
		return dev
	}
	return math.Copysign(recurBase, dev)
}

func (r *recurrence) encode(e *enc) {
	e.boolean(r.started)
	e.i64(r.day)
	for i := range r.days {
		e.b = append(e.b, r.days[i][:]...)
	}
}

// decode restores what encode wrote; the busy counts are recomputed.
func (r *recurrence) decode(d *dec) {
	var n recurrence
	n.started = d.boolean()
	n.day = d.i64()
	for i := range n.days {
		if len(d.b) < recurSlots {
			d.fail("recurrence")
			return
		}
		copy(n.days[i][:], d.b)
		d.b = d.b[recurSlots:]
		for _, c := range n.days[i] {
			n.busy[i][0] += b2u(c&0xf != 0)
			n.busy[i][1] += b2u(c>>4 != 0)
		}
	}
	if d.err == nil {
		*r = n
	}
}
