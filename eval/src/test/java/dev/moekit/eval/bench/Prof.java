package dev.moekit.eval.bench;
import dev.moekit.eval.*; import dev.moekit.eval.runtime.*; import java.nio.file.*; import java.util.*;
import ai.djl.ndarray.*;
public class Prof { public static void main(String[] a) throws Exception {
  String name = a[0];
  try (CausalLm lm = CausalLm.open(Path.of("/work/shared/models/"+name), RuntimeOptions.cpu())) {
    int[][] w = new int[8][256]; Random r = new Random(1); for (int[] x : w) for (int i=0;i<256;i++) x[i]=r.nextInt(8000);
    TokenBatch b = TokenBatch.of(w);
    for (int it=0; it<4; it++) {
      long t0=System.nanoTime();
      try (Pass p = lm.begin(List.of(b))) { p.runAll(ForwardObserver.NONE); long t1=System.nanoTime();
        try (NDManager m = lm.manager().newSubManager()) { NDArray l = p.logits(0, m); NDArray lp = l.get(":, :-1, :").logSoftmax(-1); float f = lp.get(0,0,0).getFloat(); long t2=System.nanoTime();
        System.out.printf("layers %.3fs logits+lsm %.3fs%n", (t1-t0)/1e9, (t2-t1)/1e9); }
      }
    }
    System.out.println("threads " + ai.djl.pytorch.jni.JniUtils.getNumThreads());
  }
}}
