"""Orders paid with WeChat Pay: reserve, prepay, notification, fulfilment, expiry and refund."""
