# The floors hold: no include cycle among the controller's topics, domain
# modules include only the leaves, and the lisec command links neither the
# controller nor the API (issue 16 item 4).
lisec_integration_test(ctl_layers tests/integration/ctl_layers.sh)
