def log = new File(basedir, 'build.log').text
def work = new File(basedir, 'target/moekit')
def out = new File(work, 'mixtral-tiny-compressed')

assert log.contains('moekit:compress runs: no earlier run')
assert log.contains('kept 36 of 48 routed experts (stun)')
assert new File(out, 'moekit_provenance.json').isFile()
assert new File(out, 'config.json').text.contains('"num_local_experts" : 6') || new File(out, 'config.json').text.contains('"num_local_experts": 6')
assert new File(work, 'compress-model.json').text.contains('"recipe"')

// evaluate: the report as JSON and HTML with its charts
def json = new File(work, 'mixtral-tiny-compressed.eval.json')
assert json.text.contains('"domain" : "python"') && json.text.contains('"domain" : "misc"')
assert json.text.contains('"reference_perplexity"') && json.text.contains('"overall_kl"')
def html = new File(work, 'mixtral-tiny-compressed.eval.html').text
assert html.contains('<table') && html.contains('mixtral-tiny-compressed.eval-perplexity.png') && html.contains('mixtral-tiny-compressed.eval-routing.png')
for (png in ['mixtral-tiny-compressed.eval-perplexity.png', 'mixtral-tiny-compressed.eval-routing.png']) {
    def bytes = new File(work, png).bytes
    assert bytes.length > 100 && bytes[1] == (byte) 'P' && bytes[2] == (byte) 'N' && bytes[3] == (byte) 'G'
}

// check: every rule passed and said so with its value and limit
assert log.contains("passed: maxPerplexityRatio: domain 'python' perplexity ratio")
assert log =~ /passed: minCompressionRatio: compression ratio 1\.2\d* \(input [\d,]+ \/ output [\d,]+ weight bytes\) is at or above the limit 1\.2/
assert log.contains('passed: engineCompatible: the output is not quantized')
assert log.contains('moekit:check: all 6 quality gate(s) passed')

// verify-checkpoint and the attached zip
assert log =~ /mixtral-tiny-compressed: ok \(mixtral, \d+ tensors, all finite\)/
def zip = new java.util.zip.ZipFile(new File(work, 'mixtral-tiny-compressed-moekit.zip'))
assert zip.getEntry('mixtral-tiny-compressed/config.json') != null
zip.close()
return true
