def log = new File(basedir, 'build.log').text
// check evaluated by itself, since no report existed
assert log.contains('moekit:check evaluates ')
assert new File(basedir, 'target/moekit/mixtral-tiny-compressed.eval.json').isFile()
// the failure names the rule, the measured value and the limit
assert log =~ /maxPerplexityRatio: domain 'python' perplexity ratio \d+\.\d+ \(output \d+\.\d+ \/ input \d+\.\d+\) is above the limit 1\.05/
assert log.contains('minCalibrationTokens: not measured: no stage of the recipe calibrated')
assert log.contains('passed: minCompressionRatio: compression ratio')
assert log.contains('moekit:check: 2 of 3 quality gate(s) failed:')
assert log.contains('BUILD FAILURE')
def state = new File(basedir, 'target/moekit/check-default.json').text
assert state.contains('"status" : "violated"') && state.contains('"status" : "not_measured"')
return true
