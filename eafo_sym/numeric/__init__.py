"""Numbers that check the derivations (NumPy/SciPy; imports SciPy only when called).

* :mod:`.quadrature`: the one quadrature routine and its tolerance and warning policy;
* :mod:`.evaluate`: SymPy expressions as stable numeric callables, turning points;
* :mod:`.entropy`: the output entropy and output law of an activation;
* :mod:`.taylor`: Taylor coefficients by quadrature, the exact entropy change;
* :mod:`.corrections`: entropy slopes of corrections, the iterated step, other laws;
* :mod:`.ranking`: activations ranked by (scale-invariant) entropy criteria;
* :mod:`.newton`: a second-order step in a finite basis;
* :mod:`.sensitivity`: CRReLU's entropy as a function of ``eps``;
* :mod:`.reference`: independent reference numbers used by checks and notebooks.
"""
