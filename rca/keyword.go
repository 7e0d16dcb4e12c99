package rca

import (
	"fmt"
	"regexp"
)

// Keywords classify cause metrics into the resource they measure, as
// gala-anteater's cause events do ("keyword": "process", ...), so a
// consumer can route or summarise causes without knowing metric names.
// Classification is by metric-name patterns; the first rule that matches
// wins, and a metric no rule matches has no keyword (null in the event).

// Keyword classes.
const (
	KeywordProcess    = "process"
	KeywordDisk       = "disk"
	KeywordNetwork    = "network"
	KeywordCPU        = "cpu"
	KeywordMemory     = "memory"
	KeywordFileSystem = "fs"
)

// KeywordRule maps metric names matching Pattern to Keyword.
type KeywordRule struct {
	Keyword string `yaml:"keyword"`
	Pattern string `yaml:"pattern"`
}

// DefaultKeywordRules follow gala-gopher's metric families: per-process
// and per-container metrics are "process" whatever they measure (as
// gala-anteater reports container CPU and process I/O), then file system
// before disk (fs I/O names mention io too), network, memory and CPU.
// Application-level metrics (l7 latency, request rates) have no keyword.
var DefaultKeywordRules = []KeywordRule{
	{KeywordProcess, `(^|_)(proc|process|processes|container|thread|task|tgid|pid)(_|$)`},
	{KeywordFileSystem, `(^|_)(fs|filesystem|vfs|inode|inodes|ext4|xfs|nfs|mount|fd|fds)(_|$)`},
	{KeywordDisk, `(^|_)(disk|blk|block|bio|iostat|io|iops|nvme|sda|dm|diskio)(_|$)`},
	{KeywordNetwork, `(^|_)(net|network|tcp|udp|nic|netdev|skb|socket|sock|packet|packets|rx|tx|retrans|ip|dns|conn|connections)(_|$)`},
	{KeywordMemory, `(^|_)(mem|memory|meminfo|oom|page|pages|pgfault|swap|rss|heap|slab|vmstat|mm)(_|$)`},
	{KeywordCPU, `(^|_)(cpu|cpus|jiffies|sched|load|load1|load5|load15|irq|softirq|steal|runqueue)(_|$)`},
}

// Classifier assigns keywords to metric names.
type Classifier struct {
	rules []compiledRule
}

type compiledRule struct {
	keyword string
	re      *regexp.Regexp
}

// NewClassifier compiles rules (DefaultKeywordRules when nil).
func NewClassifier(rules []KeywordRule) (*Classifier, error) {
	if rules == nil {
		rules = DefaultKeywordRules
	}
	c := &Classifier{}
	for i, r := range rules {
		if r.Keyword == "" {
			return nil, fmt.Errorf("keyword rule %d: empty keyword", i)
		}
		re, err := regexp.Compile("(?i)" + r.Pattern)
		if err != nil {
			return nil, fmt.Errorf("keyword rule %d (%s): %w", i, r.Keyword, err)
		}
		c.rules = append(c.rules, compiledRule{r.Keyword, re})
	}
	return c, nil
}

// Classify returns the keyword of a metric name, "" when none applies.
func (c *Classifier) Classify(metric string) string {
	for _, r := range c.rules {
		if r.re.MatchString(metric) {
			return r.keyword
		}
	}
	return ""
}
