from geodesic_stage.cli import main

raise SystemExit(main())
