/**
 * Training on DJL's PyTorch engine, one code path for CPU and GPU: knowledge distillation and fine-tuning of chosen
 * parameters of any family the eval runtime runs, with the evaluation forward itself
 * ({@link dev.moekit.eval.runtime.CausalLm#forward}, masters from {@link dev.moekit.eval.runtime.Trainable}).
 *
 * <p>Entry point for other modules (SlimMoE, upcycling, compressed experts):
 * {@link dev.moekit.distill.Trainer#train(TrainSpec, dev.moekit.pipeline.Events)}, or {@link dev.moekit.distill.Trainer#open}
 * to keep the trained model in memory. A {@link dev.moekit.distill.TrainSpec} names the student, teacher, data
 * ({@link dev.moekit.distill.TrainData}: calibration text or token windows), what trains
 * ({@link dev.moekit.eval.runtime.ParamGroup}), the objective ({@link dev.moekit.distill.Losses}: top-k KD with
 * temperature, CE, load balancing, z-loss), the optimizer ({@link dev.moekit.distill.Optim}: AdamW, warm-up, cosine,
 * clipping), accumulation, precision (fp16 with fp32 masters and loss scaling), the teacher cache, resumable training
 * state and parameters a method adds ({@link dev.moekit.distill.AddedParameter} with a
 * {@link dev.moekit.eval.runtime.ForwardExtension}). The recipe stage {@code distill}
 * ({@link dev.moekit.distill.stage.DistillStage}) is a thin adapter over it.
 */
package dev.moekit.distill;
