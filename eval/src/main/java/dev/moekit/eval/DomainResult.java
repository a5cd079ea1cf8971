package dev.moekit.eval;

/**
 * Scores of one data file.
 *
 * @param domain        the file's domain name
 * @param tokens        scored positions (every position but each window's first)
 * @param nll           mean negative log-likelihood in nats
 * @param perplexity    {@code exp(nll)}
 * @param referencePerplexity the reference model's perplexity on the same windows, or NaN without a reference
 * @param kl            KL divergence of the model from the reference, null without a reference
 * @param top1          fraction of positions where model and reference agree on the most likely next token, NaN
 *                      without a reference
 */
public record DomainResult(String domain, long tokens, double nll, double perplexity, double referencePerplexity,
                           KlStats kl, double top1) {}
