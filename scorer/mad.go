package scorer

func init() {
	Register("mad", ModelDoc{
		Description: "Robust z-score against the median and the median absolute deviation (MAD·1.4826) of a " +
			"sliding window. Outliers in the window barely move either, so it stays sharp on spiky series; " +
			"a sorted copy of the window makes each update a count of the old and the new value's ranks and " +
			"one memmove of the values between them, and the MAD an O(1) walk from the previous " +
			"sample's, with no allocation.",
		Warmup: "`warmup` samples (default 16), then threshold.init samples (default 128) for SPOT.",
		State:  "8·window bytes plus about 350 (≈ 870 bytes at the default window of 64).",
		Params: []ParamDoc{
			{Name: "window", Default: "64", Help: "samples in the sliding window (4 to 4096)"},
			{Name: "warmup", Default: "16", Help: "samples before the model scores (at most window)"},
		},
	}, newMAD)
}

// madConsistency makes MAD estimate σ for Gaussian data.
const madConsistency = 1.4826

type mad struct {
	warmup int
	w      sortedRing
}

// calibration: see zFloor.
func (m *mad) calibration() calibrationHint { return calibrationHint{floor: zFloor} }

func newMAD(p Params) (Core, error) {
	size, err := p.Int("window", 4, 4096)
	if err != nil {
		return nil, err
	}
	warm, err := p.Int("warmup", 2, size)
	if err != nil {
		return nil, err
	}
	return &mad{warmup: warm, w: newSortedRing(size)}, nil
}

// flatScale is the spread when more than half the window is one value
// (MAD 0, common on quantised series): the mean absolute deviation from
// the median, and then the floor.
func (m *mad) flatScale(med float64) float64 {
	return max(1.2533*m.w.absDevSum(med)/float64(len(m.w.sorted)), scaleFloor(med))
}

func (m *mad) Update(_ int64, v float64) Estimate {
	if m.w.n == 0 {
		m.w.push(v)
		return Estimate{Expected: v, Scale: nan}
	}
	med := m.w.median()
	// The robust spread, MAD·1.4826, written out here rather than in a
	// method: a call would cost more than the usual case's work.
	sd := madConsistency * m.w.madAt(med)
	if sd > 0 {
		// sd > 0 is not NaN, and the floor is positive: fmax is max.
		sd = fmax(sd, scaleFloor(med))
	} else {
		sd = m.flatScale(med)
	}
	m.w.push(v)
	return Estimate{Dev: ratio(v, med, sd), Expected: med, Scale: sd}
}

func (m *mad) Ready() bool         { return m.w.n > m.warmup }
func (m *mad) Shift(delta float64) { m.w.shift(delta) }
func (m *mad) Reset()              { m.w.reset() }

func (m *mad) AppendBinary(b []byte) ([]byte, error) { return m.w.appendState(b) }
func (m *mad) UnmarshalBinary(b []byte) error        { return m.w.restoreState(b) }
