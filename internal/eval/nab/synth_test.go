package nab

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anteater-dev/anteater/scorer"
)

// The synthetic corpus is a second, independent view of the univariate
// models beside the NAB files at hand: NAB-like files of signal types
// the local NAB subset lacks (weekly seasonality, bursty counts, random
// walks, step changes, a drifting temperature with a failure ramp,
// irregular sampling with gaps, short hourly files), with
// known anomalies and NAB-sized windows, scored by the real NAB scorer.
// It is a regression and overfitting check, not a target to tune to.

// synthStart is a Monday, so weekends fall on days 5 and 6.
var synthStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// synthSeries is one generated file before its windows are resolved.
type synthSeries struct {
	step time.Duration
	// at, when set, is each row's time from the start instead of
	// i·step: irregular sampling.
	at        []time.Duration
	values    []float64
	anomalies []int // rows where a labelled anomaly starts
}

// synthKinds are the generators by category, each called with a seeded
// source; every kind yields files of a few thousand rows.
var synthKinds = []struct {
	name string
	gen  func(r *rand.Rand) synthSeries
}{
	{"daily", synthDaily},
	{"weekly", synthWeekly},
	{"counts", synthCounts},
	{"randomwalk", synthRandomWalk},
	{"steps", synthSteps},
	{"temperature", synthTemperature},
	{"cron", synthCron},
	{"bursts", synthBursts},
	{"traffic", synthTraffic},
	{"hourly", synthHourly},
}

// synthSeeds is the number of files per kind.
const synthSeeds = 3

// hourOfDay and weekday of row i at step.
func synthClock(i int, step time.Duration) (hour float64, weekday int) {
	t := time.Duration(i) * step
	hour = math.Mod(t.Hours(), 24)
	weekday = int(t.Hours()/24) % 7
	return hour, weekday
}

// busyShape is a smooth daily cycle: 0 at night, 1 in the afternoon.
func busyShape(hour float64) float64 {
	return 0.5 - 0.5*math.Cos(2*math.Pi*(hour-3)/24)
}

// synthDaily: a 5-minute series with a daily cycle and Gaussian noise;
// anomalies: a single spike, then a day whose peak does not come (a
// broken pattern, 3 hours flat at the night level).
func synthDaily(r *rand.Rand) synthSeries {
	step := 5 * time.Minute
	rows := 21 * 288
	base, amp, noise := 30+20*r.Float64(), 10+20*r.Float64(), 1+2*r.Float64()
	s := synthSeries{step: step, values: make([]float64, rows)}
	for i := range rows {
		h, _ := synthClock(i, step)
		s.values[i] = base + amp*busyShape(h) + noise*r.NormFloat64()
	}
	spike := 15*288 + 100 + r.IntN(100)
	s.values[spike] += 12 * noise
	flat := 18*288 + 12*12 // noon of day 18
	for i := flat; i < flat+36; i++ {
		s.values[i] = base + noise*r.NormFloat64()
	}
	s.anomalies = []int{spike, flat}
	return s
}

// synthCron: a 5-minute daily series with a nightly job that pushes it
// up for 1–3 rows at about 02:00 (±20 minutes) every night, as backups
// and batch jobs do; anomalies: a spike of the job's size at an hour it
// never ran, and a night on which the job runs three times as high and
// for two hours.
func synthCron(r *rand.Rand) synthSeries {
	step := 5 * time.Minute
	rows := 21 * 288
	base, amp, noise := 30+20*r.Float64(), 10+10*r.Float64(), 1+r.Float64()
	job := (8 + 4*r.Float64()) * noise
	s := synthSeries{step: step, values: make([]float64, rows)}
	for i := range rows {
		h, _ := synthClock(i, step)
		s.values[i] = base + amp*busyShape(h) + noise*r.NormFloat64()
	}
	long := 18 * 288 // the night of day 18
	for d := range 21 {
		at := d*288 + 24 + r.IntN(9) - 4
		n := 1 + r.IntN(3)
		size := job
		if d*288 == long {
			at, n, size = long+24, 24, 3*job
		}
		for i := at; i < at+n; i++ {
			s.values[i] += size
		}
	}
	stray := 14*288 + 11*12 + r.IntN(48) // late morning of day 14
	s.values[stray] += job
	s.anomalies = []int{stray, long + 24}
	return s
}

// synthBursts: a 5-minute series that sits on 0 between bursts of writes
// (disk write bytes), about four a day at random times, each a few
// samples of a size that varies by ±30 %; anomalies: a burst 8× the
// usual size, and writes that go on for three hours.
func synthBursts(r *rand.Rand) synthSeries {
	step := 5 * time.Minute
	rows := 16 * 288
	size := 1e6 * (1 + 99*r.Float64())
	s := synthSeries{step: step, values: make([]float64, rows)}
	big := 10*288 + r.IntN(288)
	long := 13*288 + r.IntN(200)
	for at := 20 + r.IntN(72); at < rows-8; at += 24 + r.IntN(120) {
		if at > big-40 && at < big+40 || at > long-40 && at < long+80 {
			continue
		}
		for i := range 2 + r.IntN(4) {
			s.values[at+i] = size * math.Exp(0.3*r.NormFloat64())
		}
	}
	for i := range 3 {
		s.values[big+i] = 8 * size * math.Exp(0.3*r.NormFloat64())
	}
	for i := range 36 {
		s.values[long+i] = size * math.Exp(0.3*r.NormFloat64())
	}
	s.anomalies = []int{big, long}
	return s
}

// synthWeekly: a 30-minute series (NYC-taxi-like) with a daily cycle and
// weekends 30% lower; anomalies: a Wednesday that looks like a weekend
// (a holiday) and a night spike.
func synthWeekly(r *rand.Rand) synthSeries {
	step := 30 * time.Minute
	rows := 10 * 7 * 48
	base, noise := 100+50*r.Float64(), 3+2*r.Float64()
	s := synthSeries{step: step, values: make([]float64, rows)}
	holiday := 7*7 + 2 // Wednesday of week 8
	for i := range rows {
		h, wd := synthClock(i, step)
		day := i / 48
		level := base * (0.6 + 0.8*busyShape(h))
		if wd >= 5 || day == holiday {
			level *= 0.7
		}
		s.values[i] = level + noise*r.NormFloat64()
	}
	spike := (8*7+5)*48 + 6 + r.IntN(6) // a weekend night of week 9
	s.values[spike] += 0.8 * base
	s.anomalies = []int{holiday*48 + 16, spike}
	return s
}

// synthCounts: tweet-like counts per 5 minutes, negative binomial
// (gamma-Poisson) with a daily cycle of the rate; anomalies: two bursts
// of 5× the rate over an hour.
func synthCounts(r *rand.Rand) synthSeries {
	step := 5 * time.Minute
	rows := 21 * 288
	base := 4 + 20*r.Float64()
	shape := 4 + 6*r.Float64() // NB dispersion: variance λ + λ²/shape
	s := synthSeries{step: step, values: make([]float64, rows)}
	b1 := 14*288 + r.IntN(288)
	b2 := 18*288 + r.IntN(288)
	for i := range rows {
		h, _ := synthClock(i, step)
		lambda := base * (0.2 + busyShape(h))
		if (i >= b1 && i < b1+12) || (i >= b2 && i < b2+12) {
			lambda *= 5
		}
		s.values[i] = float64(poisson(r, lambda*gammaVariate(r, shape)/shape))
	}
	s.anomalies = []int{b1, b2}
	return s
}

// synthRandomWalk: a Gaussian random walk; anomalies: a jump of 12 steps'
// spread that stays, and an hour of six times the volatility.
func synthRandomWalk(r *rand.Rand) synthSeries {
	step := 5 * time.Minute
	rows := 5000
	sigma := 0.5 + r.Float64()
	s := synthSeries{step: step, values: make([]float64, rows)}
	jump := 2500 + r.IntN(300)
	burst := 4000 + r.IntN(300)
	v := 100.0
	for i := range rows {
		d := sigma * r.NormFloat64()
		if i >= burst && i < burst+12 {
			d *= 6
		}
		if i == jump {
			d += 12 * sigma
		}
		v += d
		s.values[i] = v
	}
	s.anomalies = []int{jump, burst}
	return s
}

// synthSteps: a noisy constant that steps up and later down, each a
// lasting change of 5 to 8 noise levels.
func synthSteps(r *rand.Rand) synthSeries {
	step := 5 * time.Minute
	rows := 5000
	noise := 1 + r.Float64()
	s := synthSeries{step: step, values: make([]float64, rows)}
	up := 2000 + r.IntN(500)
	down := 3800 + r.IntN(500)
	rise, fall := 5+3*r.Float64(), 5+3*r.Float64()
	for i := range rows {
		level := 50.0
		if i >= up {
			level += rise * noise
		}
		if i >= down {
			level -= (rise + fall) * noise
		}
		s.values[i] = level + noise*r.NormFloat64()
	}
	s.anomalies = []int{up, down}
	return s
}

// synthTemperature: a machine temperature wandering (AR(1)) around a mild
// daily swing; anomalies: a 30-minute dip of 8 °C, and a failure ramp
// (+2.5 °C an hour for 8 hours) that ends in a shutdown to ambient.
func synthTemperature(r *rand.Rand) synthSeries {
	step := 5 * time.Minute
	rows := 6000
	s := synthSeries{step: step, values: make([]float64, rows)}
	dip := 2500 + r.IntN(500)
	ramp := 4500 + r.IntN(500)
	stop := ramp + 8*12
	var drift float64
	for i := range rows {
		h, _ := synthClock(i, step)
		drift = 0.995*drift + 0.3*r.NormFloat64()
		v := 80 + 3*math.Sin(2*math.Pi*h/24) + drift + 0.3*r.NormFloat64()
		switch {
		case i >= dip && i < dip+6:
			v -= 8
		case i >= ramp && i < stop:
			v += 2.5 * float64(i-ramp) / 12
		case i >= stop && i < stop+24:
			v = 25 + 0.5*r.NormFloat64()
		}
		s.values[i] = v
	}
	s.anomalies = []int{dip, ramp}
	return s
}

// synthTraffic: road speed sampled irregularly, as NAB's traffic
// sensors report it: steps of 5, 10 or 15 minutes with up to two minutes
// of jitter, and now and then a gap of 1 to 10 hours; dips at the
// weekday rush hours. Anomalies: two incidents, each halving the speed
// for an hour.
func synthTraffic(r *rand.Rand) synthSeries {
	rows := 2500
	free, noise := 55+15*r.Float64(), 2+2*r.Float64()
	s := synthSeries{at: make([]time.Duration, rows), values: make([]float64, rows)}
	incidents := []int{900 + r.IntN(400), 1800 + r.IntN(400)}
	var t, end time.Duration
	k := 0
	for i := range rows {
		s.at[i] = t
		h := math.Mod(t.Hours(), 24)
		v := free + noise*r.NormFloat64()
		if int(t.Hours()/24)%7 < 5 {
			v -= 0.25 * free * (math.Exp(-(h-8)*(h-8)/2) + math.Exp(-(h-17.5)*(h-17.5)/2))
		}
		if k < len(incidents) && i == incidents[k] {
			end = t + time.Hour
			k++
		}
		if t < end {
			v /= 2
		}
		s.values[i] = max(v, 1)
		t += time.Duration(5*(1+r.IntN(3)))*time.Minute + time.Duration(r.IntN(120))*time.Second
		if r.IntN(200) == 0 {
			t += time.Duration(1+r.IntN(10)) * time.Hour
		}
	}
	s.anomalies = incidents
	return s
}

// synthHourly: an hourly price with a daily cycle and log-normal noise
// over about two months, the size and shape of NAB's ad-exchange files;
// anomalies: three to five hours at 3× the price, and six hours at a
// third of it.
func synthHourly(r *rand.Rand) synthSeries {
	step := time.Hour
	rows := 1600
	base, sigma := 0.1+0.4*r.Float64(), 0.1+0.1*r.Float64()
	s := synthSeries{step: step, values: make([]float64, rows)}
	high := 500 + r.IntN(400)
	low := 1100 + r.IntN(400)
	n := 3 + r.IntN(3)
	for i := range rows {
		h, _ := synthClock(i, step)
		v := base * (1 + 0.3*math.Sin(2*math.Pi*(h-6)/24)) * math.Exp(sigma*r.NormFloat64())
		switch {
		case i >= high && i < high+n:
			v *= 3
		case i >= low && i < low+6:
			v /= 3
		}
		s.values[i] = v
	}
	s.anomalies = []int{high, low}
	return s
}

// poisson draws from Poisson(lambda): Knuth's product method for small
// rates, the normal approximation above 50.
func poisson(r *rand.Rand, lambda float64) int {
	if lambda > 50 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// gammaVariate draws from Gamma(shape, 1) for shape ≥ 1 (Marsaglia and
// Tsang 2000).
func gammaVariate(r *rand.Rand, shape float64) float64 {
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// syntheticCorpus generates the corpus: synthSeeds files per kind, each
// anomaly labelled with a window of NAB's size (10% of the rows shared
// among the file's anomalies) centred on its first row.
func syntheticCorpus(t testing.TB) *Corpus {
	c := &Corpus{}
	for k, kind := range synthKinds {
		for seed := range synthSeeds {
			r := rand.New(rand.NewPCG(uint64(k+1), uint64(seed+1)))
			s := kind.gen(r)
			f := &File{
				Name:       fmt.Sprintf("%s/%s_%d.csv", kind.name, kind.name, seed),
				Category:   kind.name,
				Timestamps: make([]int64, len(s.values)),
				Values:     s.values,
			}
			for i := range f.Timestamps {
				if s.at != nil {
					f.Timestamps[i] = synthStart + s.at[i].Milliseconds()
				} else {
					f.Timestamps[i] = synthStart + int64(i)*s.step.Milliseconds()
				}
			}
			size := len(s.values) / 10 / len(s.anomalies)
			for _, a := range s.anomalies {
				w := Window{First: max(a-size/2, 0), Last: min(a-size/2+size-1, len(s.values)-1)}
				if n := len(f.Windows); n > 0 && f.Windows[n-1].Last >= w.First {
					t.Fatalf("%s: windows overlap", f.Name)
				}
				f.Windows = append(f.Windows, w)
			}
			c.Files = append(c.Files, f)
		}
	}
	return c
}

// episodeDetector is anteater's notified output, as `anteater eval nab`
// scores it: the score, but 0 inside an episode's hold-off.
type episodeDetector struct{ m scorer.Model }

func (d episodeDetector) ObserveAll(ts int64, v float64, out []float64) {
	r := d.m.Observe(ts, v)
	out[0] = r.Score
	if r.Held {
		out[0] = 0
	}
}

// scoreSynthetic runs spec over the corpus and evaluates the episode
// output under NAB's standard profile.
func scoreSynthetic(t testing.TB, c *Corpus, spec scorer.Spec) Result {
	out, err := RunAll(context.Background(), c, func() (MultiDetector, error) {
		m, err := scorer.New(spec)
		return episodeDetector{m}, err
	}, 1, 0, nil)
	require.NoError(t, err)
	rep, err := Evaluate("synthetic", c, out[0])
	require.NoError(t, err)
	require.Equal(t, "standard", rep.Optimized[0].Profile)
	return rep.Optimized[0]
}

func TestSyntheticCorpus(t *testing.T) {
	c := syntheticCorpus(t)
	require.Len(t, c.Files, len(synthKinds)*synthSeeds)
	for _, f := range c.Files {
		prob := ProbationaryLength(f.Rows())
		for _, w := range f.Windows {
			require.Greater(t, w.First, prob, "%s: every window is scored", f.Name)
		}
		for _, v := range f.Values {
			require.False(t, math.IsNaN(v) || math.IsInf(v, 0), f.Name)
		}
	}
	// Generation is deterministic: the corpus is a fixed benchmark.
	again := syntheticCorpus(t)
	require.Equal(t, c.Files[7].Values, again.Files[7].Values)
}

// TestSyntheticScores reports every model's NAB standard score on the
// synthetic corpus (go test -v -run SyntheticScores) and guards the
// default model against regressions: its floor sits a few points under
// what it scores, so a change that loses a kind of signal fails here.
func TestSyntheticScores(t *testing.T) {
	if testing.Short() {
		t.Skip("scores every model on the synthetic corpus")
	}
	c := syntheticCorpus(t)
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %7s %9s  %s\n", "model", "score", "windows", "per category (raw)")
	scores := map[string]float64{}
	for _, m := range scorer.Models() {
		res := scoreSynthetic(t, c, scorer.Spec{Model: m.Name})
		scores[m.Name] = res.Score
		fmt.Fprintf(&b, "%-10s %7.2f %4d/%-4d ", m.Name, res.Score, res.Detected, res.Windows)
		for _, cat := range res.Categories {
			fmt.Fprintf(&b, " %s %.2f (%d/%d, %d FP)", cat.Category, cat.Raw, cat.Detected, cat.Windows, cat.FPRows)
		}
		b.WriteByte('\n')
	}
	// The default without its daily-recurrence damping, to show what
	// the damping is worth on the nightly-job files.
	cronFP := map[bool]int{}
	for _, rec := range []bool{true, false} {
		res := scoreSynthetic(t, c, scorer.Spec{Model: "seasonal", Params: map[string]string{"recurring": fmt.Sprint(rec)}})
		for _, cat := range res.Categories {
			if cat.Category == "cron" {
				cronFP[rec] = cat.FPRows
				fmt.Fprintf(&b, "seasonal recurring=%v: %.2f, cron %.2f (%d/%d, %d FP)\n", rec, res.Score, cat.Raw, cat.Detected, cat.Windows, cat.FPRows)
			}
		}
	}
	t.Log("synthetic NAB, standard profile, episode output:\n" + b.String())
	require.GreaterOrEqual(t, scores[scorer.DefaultModel], synthFloor)
	require.Less(t, cronFP[true], cronFP[false], "damping recurrences cuts the nightly job's false alarms")
}

// synthFloor is the default model's regression floor on the synthetic
// corpus. The bursts kind is the default's weakest (half its anomalies
// found, and routine bursts of five samples raise the likelihood just
// past 1), and it holds the score near 80.
const synthFloor float64 = 78
