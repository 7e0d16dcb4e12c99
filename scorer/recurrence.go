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
//   - A day on which excursions were everywhere (in more than
//     recurFracSlots, a tenth, of its slots) is no evidence: on a bursty
//     series something happened near every time of day, by chance. On
//     days with one, two or four excursions, a given neighbourhood of
//     three slots is hit on two of three days by chance with a
//     probability of about 1 %, 4 % and 13 %.
//   - Only excursions up to recurRatio times the recurring one are
//     damped: a backup that suddenly takes the disk twice as far as usual
//     is news.
//
// The deviations are the core's (z-score-like units). A day is a UTC day
// of the timestamps. Since a day with more than recurFracSlots slots of
// excursions is no evidence, a day and sign keep at most that many
// (slot, level) pairs, or the mark that it was busy: 80 bytes in all.
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

// recurrence's days[0] is the current day, days[i] the i-th before.
//
// Only excursions (|deviation| ≥ recurMin) are recorded or damped, so
// the memory moves to the day of a sample only when one comes: a few
// instructions for every other sample.
type recurrence struct {
	days    [recurDays + 1][2]recurDay // [day][sign: 0 up, 1 down]
	day     int32                      // day number of days[0]; valid when started
	started bool
}

// recurDay is one day's excursions of one sign: n pairs of slot and
// level (recurLevel), or n = recurBusy once more than recurFracSlots
// slots had one.
type recurDay struct {
	n  uint8
	at [recurFracSlots][2]uint8
}

const recurBusy = recurFracSlots + 1

// level is the day's level at slot, 0 when none.
func (d *recurDay) level(slot int) uint8 {
	for _, e := range d.at[:min(d.n, recurFracSlots)] {
		if int(e[0]) == slot {
			return e[1]
		}
	}
	return 0
}

// record raises the day's level at slot to l.
func (d *recurDay) record(slot int, l uint8) {
	if d.n == recurBusy {
		return
	}
	for i := range d.at[:d.n] {
		if e := &d.at[i]; int(e[0]) == slot {
			e[1] = max(e[1], l)
			return
		}
	}
	if d.n == recurFracSlots {
		d.n = recurBusy
		return
	}
	d.at[d.n] = [2]uint8{uint8(slot), l}
	d.n++
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
		r.started, r.day = true, int32(d)
	}
	if n := d - int64(r.day); n > 0 {
		n = min(n, recurDays+1)
		copy(r.days[n:], r.days[:recurDays+1-n])
		for i := range n {
			r.days[i] = [2]recurDay{}
		}
		r.day = int32(d)
	}
	return int((ts - d*day) / slotMs)
}

// recurring is the level that recurred around slot on recurNeed of the
// past days (s selects the sign): the recurNeed-th largest of the days'
// neighbourhood maxima, counting busy days as 0.
func (r *recurrence) recurring(slot, s int) uint8 {
	lo, hi := slot-1, slot+1
	if lo < 0 {
		lo = recurSlots - 1
	}
	if hi == recurSlots {
		hi = 0
	}
	var top [recurNeed]uint8 // descending
	for i := 1; i <= recurDays; i++ {
		d := &r.days[i][s]
		if d.n == recurBusy {
			continue
		}
		m := max(d.level(lo), d.level(slot), d.level(hi))
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
	if dev < recurMin && dev > -recurMin {
		return dev // an ordinary deviation: inline
	}
	return r.dampExcursion(ts, dev)
}

// dampExcursion is damp for an excursion (|dev| ≥ recurMin) or a NaN,
// out of line so that damp inlines.
func (r *recurrence) dampExcursion(ts int64, dev float64) float64 {
	a := math.Abs(dev)
	if !(a >= recurMin) {
		return dev // NaN
	}
	s := 0
	if dev < 0 {
		s = 1
	}
	slot := r.advance(ts)
	r.days[0][s].record(slot, recurLevel(a))
	if e := r.recurring(slot, s); e == 0 || a > recurRatio*recurFloor(e) {
		return dev
	}
	return math.Copysign(recurBase, dev)
}

func (r *recurrence) encode(e *enc) {
	e.boolean(r.started)
	e.u32(uint32(r.day))
	for i := range r.days {
		for _, d := range r.days[i] {
			e.u8(d.n)
			for _, p := range d.at {
				e.u8(p[0])
				e.u8(p[1])
			}
		}
	}
}

// decode restores what encode wrote, refusing pairs out of range.
func (r *recurrence) decode(d *dec) {
	var n recurrence
	n.started = d.boolean()
	n.day = int32(d.u32())
	for i := range n.days {
		for s := range n.days[i] {
			day := &n.days[i][s]
			day.n = d.u8()
			if day.n > recurBusy {
				d.fail("recurrence")
			}
			for k := range day.at {
				day.at[k] = [2]uint8{d.u8(), d.u8()}
				if k < int(min(day.n, recurFracSlots)) && (day.at[k][0] >= recurSlots || day.at[k][1] > 15) {
					d.fail("recurrence slot")
				}
			}
		}
	}
	if d.err == nil {
		*r = n
	}
}
